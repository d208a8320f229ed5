"""The webhooks' HTTP client: one POST, its status and headers, over aiohttp's client.

aiohttp parses answers in C and costs the event loop ~0.1 ms per request here, httpx (over
httpcore and anyio) ~0.5-0.9 ms (bench/http_clients.py; bench/README.md, `notifications_cpu.py`).

What the dispatcher relies on: TLS verified against certifi's authorities (httpx's default
context); redirects never followed (a 3xx is the answer); no proxy or other settings read from the
environment (the address policy assumes a direct connection); at most MAX_CONNECTIONS requests at
once, an idle connection kept for KEEPALIVE_SECONDS (aiohttp caps the connections in use, not the
idle ones; capping those too would mean overriding its private `_release`); an answer's body read
to its end only when it says it is small (then its connection is kept), any other closed unread
(unless aiohttp's parser had it whole with the head: then it is kept); bodies never decompressed
(none is asked for). Every name the session resolves is checked at connect time by the address
policy (`PolicyResolver`). Failures raise the errors below, named as httpx named them,
since the names are recorded on the attempts (`ERROR_NAMES` maps aiohttp's). The caller bounds
the whole request with `asyncio.timeout`.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import certifi
from aiohttp.abc import AbstractResolver, ResolveResult

from services.notifications.delivery.addresses import AddressPolicy, AddressRefused

MAX_CONNECTIONS = 100  # requests in flight at once, as httpx's default limits
KEEPALIVE_SECONDS = 5.0  # how long an idle connection is kept, as httpx's default
MAX_DRAINED = 16 * 1024  # bytes of an answer's body read so that its connection is kept
USER_AGENT = "carecoord-notifications"
NO_BODY = (204, 304)


class HTTPError(Exception):
    """A request that got no usable answer; the class name says how (as httpx's did)."""


class ConnectError(HTTPError):
    pass


class WriteError(HTTPError):
    pass


class ReadError(HTTPError):
    pass


class RemoteProtocolError(HTTPError):
    pass


class UnsupportedProtocol(HTTPError):
    pass


# aiohttp's failures as the attempts name them; the first class that matches wins, and any other
# client error is a RemoteProtocolError (`named`).
ERROR_NAMES: tuple[tuple[type[BaseException], type[HTTPError]], ...] = (
    (aiohttp.ClientConnectorError, ConnectError),  # refused, unreachable, unresolved, TLS not verified
    (aiohttp.ServerDisconnectedError, RemoteProtocolError),  # closed without an answer
    (aiohttp.ClientResponseError, RemoteProtocolError),  # not HTTP/1.x, malformed or too long headers
    (aiohttp.ClientConnectionResetError, WriteError),  # the connection went while the request was written
    (aiohttp.ClientPayloadError, ReadError),
    (aiohttp.ClientOSError, ReadError),
    (aiohttp.InvalidURL, UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, UnsupportedProtocol),
)


def named(error: aiohttp.ClientError) -> HTTPError:
    for aiohttp_class, ours in ERROR_NAMES:
        if isinstance(error, aiohttp_class):
            return ours(type(error).__name__)  # not str(error): aiohttp's messages carry the URL
    return RemoteProtocolError(type(error).__name__)


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: Mapping[str, str]  # looked up in any case

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


class PolicyResolver(AbstractResolver):
    """aiohttp's default resolver, refusing at connect time the addresses the policy refuses (a
    name that resolves inward is never connected to, however it resolved at an earlier check).
    IP literals never come here: `AddressPolicy.check_url` checks them."""

    def __init__(self, policy: AddressPolicy, resolver: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._resolver = resolver or aiohttp.DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: Any = 0) -> list[ResolveResult]:
        try:
            results = await self._resolver.resolve(host, port, family)
        except OSError as error:
            raise AddressRefused(f"the host does not resolve ({error.strerror or error})") from None
        for result in results:
            self._policy.check_resolved_address(result["host"])
        return results

    async def close(self) -> None:
        await self._resolver.close()


def trusted_authorities() -> ssl.SSLContext:
    """As httpx verifies by default: certifi's authorities."""
    return ssl.create_default_context(cafile=certifi.where())


class WebhookClient:
    def __init__(self, policy: AddressPolicy, ssl_context: ssl.SSLContext | None = None) -> None:
        self._policy = policy
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:  # inside the running loop, as aiohttp asks
            connector = aiohttp.TCPConnector(
                limit=MAX_CONNECTIONS, limit_per_host=0, keepalive_timeout=KEEPALIVE_SECONDS,
                ssl=self._ssl or trusted_authorities(), resolver=PolicyResolver(self._policy))
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(), trust_env=False,
                auto_decompress=False, headers={"user-agent": USER_AGENT},
                skip_auto_headers=("accept-encoding",))
        return self._session

    async def post(self, url: str, data: bytes, headers: Mapping[str, str],
                   on_answer: Callable[[Answer], None] = lambda _: None) -> Answer:
        """The answer; `on_answer` hears of it as soon as its head is read (before a small body is
        read to its end), so a caller timing out while that body comes still knows the status."""
        session = self._opened()
        try:
            response = await session.post(url, data=data, headers=headers, allow_redirects=False)
        except aiohttp.ClientError as error:
            raise named(error) from error
        except AddressRefused:  # a ValueError itself: the policy's refusal, not a request's fault
            raise
        except ValueError as error:  # a header with a line break, a host name IDNA refuses, ...
            raise UnsupportedProtocol(type(error).__name__) from error
        try:
            answer = Answer(response.status, response.headers)
            on_answer(answer)
            length = response.content_length
            if response.status in NO_BODY or length == 0:
                response.release()
            elif (length is not None and length <= MAX_DRAINED
                    and "transfer-encoding" not in response.headers):
                try:
                    await response.read()
                    response.release()
                except aiohttp.ClientError:
                    response.close()  # the status was answered; only the connection is lost
            else:
                response.close()  # a large, chunked or unsized body is never read: the connection goes
        except BaseException:
            response.close()
            raise
        return answer

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
