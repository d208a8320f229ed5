"""The webhooks' HTTP client: one POST, its status and headers, on kept HTTP/1.1 connections.

httpx (over httpcore and anyio) cost the event loop ~0.4-0.5 ms per request on this machine:
anyio's streams and cancel scopes, a poll of the socket before reusing a connection, the request
and response models. A webhook needs little of that, so this client writes the request itself on
asyncio's streams (~0.04 ms: bench/http_clients.py; bench/README.md, `notifications_cpu.py`).

What it keeps of how the dispatcher used httpx: TLS verified as httpx verifies (its default
context: certifi's authorities); redirects never followed (a 3xx is the answer); at most
MAX_CONNECTIONS requests at once and MAX_IDLE connections kept, each for KEEPALIVE_SECONDS; an
answer's body read to its end only when it says it is small (then its connection is kept);
errors named as httpx named them ("ConnectError", "ReadError", "RemoteProtocolError", ...), since
they are recorded on the attempts. The caller bounds the whole request with `asyncio.timeout`.
It does not read proxy settings from the environment (httpx did): the address policy
(addresses.py) checks the addresses the receiver's host resolves to, which only a direct
connection goes to.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx

MAX_CONNECTIONS = 100  # requests in flight at once, as httpx's default limits
MAX_IDLE = 20  # connections kept between requests, as httpx's default limits
KEEPALIVE_SECONDS = 5.0  # how long an idle connection is kept, as httpx's default
MAX_HEAD = 64 * 1024  # bytes of an answer's status line and headers
MAX_DRAINED = 16 * 1024  # bytes of an answer's body read so that its connection is kept
USER_AGENT = "carecoord-notifications"
NO_BODY = (204, 304)
TARGET_SAFE = "/?#[]@!$&'()*+,;=:%-._~"  # what a URL's path and query keep as written


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


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: Mapping[str, str]  # names in lower case (a repeated header: its last value)

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


class _Connection:
    __slots__ = ("reader", "writer", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.idle_since = reader, writer, 0.0

    def reusable(self, now: float) -> bool:
        """Not closed by the receiver meanwhile (the loop has seen its end) and not kept too long."""
        return (now - self.idle_since < KEEPALIVE_SECONDS and not self.reader.at_eof()
                and self.reader.exception() is None and not self.writer.is_closing())

    def abort(self) -> None:
        self.writer.transport.abort()


Origin = tuple[str, str, int]  # scheme, host, port


class WebhookClient:
    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context
        self._idle: dict[Origin, list[_Connection]] = {}
        self._idle_count = 0
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def post(self, url: str, data: bytes, headers: Mapping[str, str],
                   on_answer: Callable[[Answer], None] = lambda _: None) -> Answer:
        """The answer; `on_answer` hears of it as soon as its head is read (before a small body is
        read to its end), so a caller timing out while that body comes still knows the status."""
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname or ""
        if scheme not in ("http", "https") or not host:
            raise UnsupportedProtocol(f"cannot send to {scheme or 'no'} URL")
        port = parts.port or (443 if scheme == "https" else 80)
        origin = (scheme, host, port)
        try:
            request = _request(parts.path, parts.query, _host_header(host, parts.port), data, headers)
        except UnicodeError as error:  # a host name IDNA refuses, a header that is not Latin-1
            raise UnsupportedProtocol(f"cannot write this request: {error}") from None
        async with self._slots:
            connection = self._kept(origin) or await self._connect(origin)
            try:
                answer, keep = await _exchange(connection, request, on_answer)
            except BaseException:
                connection.abort()
                raise
            if keep:
                self._keep(origin, connection)
            else:
                connection.abort()
            return answer

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.abort()
        self._idle.clear()
        self._idle_count = 0

    def _kept(self, origin: Origin) -> _Connection | None:
        connections = self._idle.get(origin)
        now = time.monotonic()
        while connections:
            connection = connections.pop()
            self._idle_count -= 1
            if connection.reusable(now):
                return connection
            connection.abort()
        return None

    def _keep(self, origin: Origin, connection: _Connection) -> None:
        if self._idle_count >= MAX_IDLE:
            connection.abort()
            return
        connection.idle_since = time.monotonic()
        self._idle.setdefault(origin, []).append(connection)
        self._idle_count += 1

    async def _connect(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context()
            tls = self._ssl
        try:
            reader, writer = await asyncio.open_connection(
                host, port, ssl=tls, server_hostname=host if tls else None, limit=MAX_HEAD)
        except (OSError, ssl.SSLError) as error:
            raise ConnectError(str(error)) from error
        return _Connection(reader, writer)


async def _exchange(connection: _Connection, request: bytes,
                    on_answer: Callable[[Answer], None]) -> tuple[Answer, bool]:
    """Send the request and read the answer's head (and a small body): the answer, and whether
    the connection may carry another request."""
    try:
        connection.writer.write(request)
        await connection.writer.drain()
    except OSError as error:
        raise WriteError(str(error)) from error
    while True:
        try:
            head = await connection.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            raise RemoteProtocolError("the receiver closed the connection without an answer") from error
        except asyncio.LimitOverrunError as error:
            raise RemoteProtocolError("the answer's headers are too long") from error
        except OSError as error:
            raise ReadError(str(error)) from error
        version, status, headers = _parse_head(head)
        if not 100 <= status < 200:
            break
        if status == 101:
            raise RemoteProtocolError("the receiver switched protocols")
    answer = Answer(status, headers)
    on_answer(answer)
    connection_tokens = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    keep = "close" not in connection_tokens and (version == "HTTP/1.1" or "keep-alive" in connection_tokens)
    if status in NO_BODY:
        return answer, keep
    length = headers.get("content-length", "")
    if "transfer-encoding" in headers or not length.isdigit() or int(length) > MAX_DRAINED:
        return answer, False  # a large, chunked or unsized body is never read: the connection goes
    try:
        await connection.reader.readexactly(int(length))
    except (asyncio.IncompleteReadError, OSError):
        return answer, False  # the status was answered; only the connection is lost
    return answer, keep


def _parse_head(head: bytes) -> tuple[str, int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/1.") or not status_line[1].isdigit():
        raise RemoteProtocolError("the answer is not HTTP/1.x")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise RemoteProtocolError("the answer has a malformed header")
        headers[name.lower()] = value.strip()
    return status_line[0], int(status_line[1]), headers


def _host_header(host: str, port: int | None) -> str:
    name = f"[{host}]" if ":" in host else host.encode("idna").decode("ascii")
    return name if port is None else f"{name}:{port}"


def _request(path: str, query: str, host: str, data: bytes, headers: Mapping[str, str]) -> bytes:
    target = quote(path or "/", safe=TARGET_SAFE) + ("?" + quote(query, safe=TARGET_SAFE) if query else "")
    lines = [f"POST {target} HTTP/1.1", f"host: {host}", f"user-agent: {USER_AGENT}", "accept: */*"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"content-length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data
