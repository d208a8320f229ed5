"""A service's HTTP API served by uvicorn on a port of its own, in the test's event loop: for what
only a real server shows (chunked bodies, stalled clients, raw bytes on the socket)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import uvicorn

from shared.runtime import Service
from tests.support.polling import eventually
from tests.support.processes import free_port


class _QuietServer(uvicorn.Server):
    """Leaves the test runner's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # type: ignore[override]
        yield


@contextlib.asynccontextmanager
async def serving(service: Service) -> AsyncIterator[tuple[str, int]]:
    """(host, port) where `service`'s HTTP API answers until the block ends."""
    port = free_port()
    server = _QuietServer(service.http_config(host="127.0.0.1", port=port, timeout_graceful_shutdown=2))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            task.result()  # raises what stopped it
        return server.started

    try:
        await eventually(started, timeout=10, what="uvicorn to start")
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        await task
