"""The load generator's HTTP client: intake's API over keep-alive connections of its own."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.stack import agency_token

HTTP_TIMEOUT_SECONDS = 30.0  # per request


def screening_body(rng: random.Random) -> dict[str, object]:
    # Item 9 is 0: a suicide-risk answer would add an urgent event and change the event count.
    answers = {f"item{i}": rng.randint(0, 3) for i in range(1, 9)}
    return {"instrument": "PHQ-9", "answers": {**answers, "item9": 0}}


class HttpResponse:
    """What the benchmark reads of a response: status, text, JSON."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class KeepAliveConnection:
    """One HTTP/1.1 keep-alive connection that POSTs JSON: the load generator's client.

    Why not httpx: it cost the benchmark ~1.5-2 ms of CPU per request (its pool checks, request
    and response models), on the same two cores as the services it measures; this writes the
    request in one call and reads a Content-Length response, about a tenth of that.
    """

    def __init__(self, host: str, port: int, authorization: str) -> None:
        self._host, self._port = host, port
        self._head = f"Host: {host}:{port}\r\nAuthorization: {authorization}\r\nContent-Type: application/json\r\n"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> HttpResponse:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._writer.write(f"POST {path} HTTP/1.1\r\n{self._head}{extra}Content-Length: {len(body)}\r\n\r\n"
                           .encode() + body)
        try:
            async with asyncio.timeout(HTTP_TIMEOUT_SECONDS):
                head = await self._reader.readuntil(b"\r\n\r\n")
                status_line, *header_lines = head.decode("latin-1").split("\r\n")
                fields = {k.strip().lower(): v.strip()
                          for k, _, v in (line.partition(":") for line in header_lines if line)}
                content = await self._reader.readexactly(int(fields.get("content-length", "0")))
        except TimeoutError as error:
            self.close()
            raise httpx.ReadTimeout(f"no response in {HTTP_TIMEOUT_SECONDS} s") from error
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            self.close()
            raise httpx.ReadError(f"{type(error).__name__}: {error}") from error
        if fields.get("connection", "").lower() == "close":
            self.close()
        return HttpResponse(int(status_line.split(" ", 2)[1]), content)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class IntakeClients:
    """Connections of their own, one lent to each request in flight, created on demand (so the
    open-loop generator never waits for a connection)."""

    def __init__(self, base_url: str) -> None:
        address = urlsplit(base_url)
        self._host, self._port = address.hostname or "127.0.0.1", address.port or 80
        self._idle: list[KeepAliveConnection] = []
        self._all: list[KeepAliveConnection] = []
        self._authorization = f"Bearer {agency_token()}"
        self.retries = 0

    def prepare(self, count: int) -> None:
        """Create connections ahead, so that a phase does not pay for creating them."""
        while len(self._all) < count:
            self._idle.append(self._new_connection())

    async def post(self, path: str, body: dict[str, object]) -> HttpResponse:
        """POST once, with an Idempotency-Key so that one retry after a transport error is safe.

        Why a retry: uvicorn closes keep-alive connections idle for 5 s, and a request that races
        that close fails although intake never saw it.
        """
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        content = json.dumps(body).encode()
        connection = self._idle.pop() if self._idle else self._new_connection()
        try:
            try:
                return await connection.post(path, content, headers)
            except httpx.ReadError:
                self.retries += 1
                return await connection.post(path, content, headers)
        finally:
            self._idle.append(connection)

    def _new_connection(self) -> KeepAliveConnection:
        connection = KeepAliveConnection(self._host, self._port, self._authorization)
        self._all.append(connection)
        return connection

    async def aclose(self) -> None:
        for connection in self._all:
            connection.close()
