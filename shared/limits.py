"""What a request body must be before the application sees it: small enough (413), arriving in
time (408) and, when it is JSON, Unicode text (422).

A pure ASGI middleware that reads the whole body itself (it is bounded by `max_bytes`) and hands
it on in one piece. Reading it here rather than letting the framework do it is what makes the
refusals reliable: an exception raised from inside the framework's body parsing becomes its
generic 400, and a client that declares no length (chunked) or stops sending would otherwise be
noticed only there, or never.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]

# A lone surrogate reaches a JSON string either escaped (\ud800) or as the bytes UTF-8 would give
# it (json.loads decodes bytes with 'surrogatepass'). Only a body containing one of these is parsed here.
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # text no UTF-8 encoder accepts


class _ClientGone(Exception):
    pass


class RequestBodyLimits:
    def __init__(self, app: Any, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(send)
            return
        if (declared is None or declared == b"0") and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body to wait for
            return
        reader = _BodyReader(receive, self.max_bytes)
        try:
            async with asyncio.timeout(self.timeout_seconds):
                body = await reader.read()
        except TimeoutError:
            if reader.received > self.max_bytes:  # the refusal was being drained when time ran out
                await self._too_large(send)
            else:
                await _refuse(send, 408, {"detail": f"request body not received within {self.timeout_seconds:g} seconds"})
            return
        except _ClientGone:
            return
        if body is None:
            await self._too_large(send)
            return
        if _is_json(headers.get(b"content-type")) and (loc := lone_surrogate_location(body)) is not None:
            await _refuse(send, 422, {"detail": [{
                "type": "string_unicode", "loc": ["body", *loc],
                "msg": "Input should be a valid string: a lone surrogate is not a Unicode character",
            }]})
            return
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, send: Any) -> None:
        await _refuse(send, 413, {"detail": f"request body larger than {self.max_bytes} bytes"})


class _BodyReader:
    def __init__(self, receive: Any, max_bytes: int) -> None:
        self._receive = receive
        self._max_bytes = max_bytes
        self.received = 0

    async def read(self) -> bytes | None:
        """The whole body, or None if it is larger than allowed.

        Past the limit, up to as much again is read and dropped before answering: closing a
        connection with unread data makes the client's side see a reset instead of the 413.
        """
        chunks: list[bytes] = []
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            self.received += len(chunk)
            if self.received <= self._max_bytes:
                chunks.append(chunk)
            if not message.get("more_body", False) or self.received > 2 * self._max_bytes:
                break
        return b"".join(chunks) if self.received <= self._max_bytes else None


def _replay(body: bytes, receive: Any) -> Any:
    """The body as one message, then whatever the server says next (a disconnect)."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _is_json(content_type: bytes | None) -> bool:
    # FastAPI parses a body as JSON when there is no content type, or a JSON one.
    if content_type is None:
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    return media.endswith(b"/json") or media.endswith(b"+json")


def lone_surrogate_location(body: bytes) -> list[str | int] | None:
    """Where in a JSON body a string (or key) holds a lone surrogate, or None.

    Strings must be Unicode scalar values: a lone surrogate cannot be encoded as UTF-8, so it
    would fail later, wherever the text is stored, logged or echoed back.
    """
    if not _MAYBE_SURROGATE.search(body):
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the application answers that
    pending: list[tuple[Any, list[str | int]]] = [(document, [])]
    while pending:
        value, loc = pending.pop()
        if isinstance(value, str):
            if LONE_SURROGATE.search(value):
                return loc
        elif isinstance(value, dict):
            for key, item in value.items():
                if LONE_SURROGATE.search(key):
                    return [*loc, key.encode("utf-8", "backslashreplace").decode()]
                pending.append((item, [*loc, key]))
        elif isinstance(value, list):
            pending.extend((item, [*loc, index]) for index, item in enumerate(value))
    return None


async def _refuse(send: Any, status: int, content: dict[str, Any]) -> None:
    body = json.dumps(content).encode()
    # The rest of the body is never read: the connection cannot carry another request.
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
