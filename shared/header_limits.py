"""A bound on a request's head (request line and headers): 431 past it, and the connection closed.

uvicorn's httptools protocol (the C parser the services use, see Service.http_config) sets no
limit of its own: a client could send megabytes of headers, and each would be buffered whole
before the application saw the request (h11 has a 16 KiB limit, but costs more CPU per request).
This protocol counts what arrives while a request's head is open and refuses it once the count
passes `max_header_bytes`, before buffering more; once the head is complete it checks its exact
size (URL, header names and values) too, which catches a head that arrived in the same read as
its request line. The answer is a plain `431 Request Header Fields Too Large` (RFC 6585) with a
JSON `{"detail": ...}` like every other refusal, then the connection is closed: what follows on
it cannot be trusted to start a new request.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DEFAULT_MAX_HEADER_BYTES = 16 * 1024  # as h11's default, and Node's


class HeadTooLarge(Exception):
    """Raised inside a parser callback to stop parsing a refused request."""


class BoundedHeadProtocol(HttpToolsProtocol):
    max_header_bytes = DEFAULT_MAX_HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_open = False
        self._head_bytes = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        head_was_open = self._head_open
        super().data_received(data)
        # Counted only when the whole read belonged to an open head (a read where a head began
        # may also hold the end of the previous request): the exact check at the head's end
        # covers the rest, so at most one read more than the limit is ever buffered.
        if head_was_open and self._head_open and not self._refused:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._refuse()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self._head_open = False
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_header_bytes:
            self._refuse()
            raise HeadTooLarge  # stops the parser: nothing of this request reaches the application
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # the parser's own errors; not the stop this class raised
            super().send_400_response(msg)

    def _refuse(self) -> None:
        self._refused = True
        body = json.dumps({"detail": f"the request line and headers are larger than {self.max_header_bytes} bytes"
                           }).encode()
        self.transport.write(b"".join([
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]))
        self.transport.close()


def bounded_head_protocol(max_header_bytes: int) -> type[BoundedHeadProtocol]:
    """The protocol class uvicorn is given (`Config(http=...)`), with this service's limit."""
    return type("BoundedHeadProtocol", (BoundedHeadProtocol,), {"max_header_bytes": max_header_bytes})
