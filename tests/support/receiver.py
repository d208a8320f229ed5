"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 (uvicorn, in the test's event
loop) that keeps what it was sent and answers as the test tells it to."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from tests.support.polling import eventually
from tests.support.processes import free_port
from tests.support.serving import _QuietServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    client: tuple[str, int] | None = None  # the sender's address and port (its connection)

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


# How to answer one request: status, headers, and seconds to wait before answering.
Answer = tuple[int, dict[str, str], float]


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)  # every request, answered or not
    answer: Callable[[Received], Answer | Awaitable[Answer]] = lambda _: (204, {}, 0.0)

    def delivered(self) -> list[Received]:
        return list(self.received)

    async def wait_for(self, count: int, what: str = "deliveries", timeout: float = 30.0) -> list[Received]:
        async def enough() -> list[Received] | None:
            return self.received if len(self.received) >= count else None
        return list(await eventually(enough, timeout=timeout, what=what))


@contextlib.asynccontextmanager
async def receiving(path: str = "/hooks") -> AsyncIterator[Receiver]:
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}{path}")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        client = scope.get("client")
        got = Received({k.decode(): v.decode() for k, v in scope["headers"]}, body,
                       tuple(client) if client else None)
        receiver.received.append(got)
        answer = receiver.answer(got)
        status, headers, delay = await answer if asyncio.iscoroutine(answer) else answer  # type: ignore[misc]
        if delay:
            await asyncio.sleep(delay)  # a slow receiver (the stand-in outside the system)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})
        await send({"type": "http.response.body", "body": b""})

    server = _QuietServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                         timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: _started(server, task), timeout=10, what="the receiver to start")
        yield receiver
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=5)


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()
    return server.started
