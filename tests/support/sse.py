"""A Server-Sent Events client for tests: httpx streaming against a service served by uvicorn,
parsed line by line as the HTML standard says (a blank line ends a block; `:` starts a comment)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.polling import eventually
from tests.support.system import bearer


@dataclass
class Block:
    """What arrived between two blank lines."""

    fields: dict[str, str] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)

    @property
    def is_event(self) -> bool:
        return "data" in self.fields

    @property
    def id(self) -> int:
        return int(self.fields["id"])

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.fields["data"])


class EventStream:
    """Every block of one open stream, gathered by a task of its own as it arrives."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.blocks: list[Block] = []
        self._reading = asyncio.create_task(self._read())

    @property
    def events(self) -> list[Block]:
        return [block for block in self.blocks if block.is_event]

    @property
    def heartbeats(self) -> list[Block]:
        return [block for block in self.blocks if block.comments and not block.fields]

    async def until(self, count: int, what: str = "events", timeout: float = 20.0) -> list[Block]:
        """Wait (bounded) until at least `count` events have arrived; all of them."""
        async def enough() -> list[Block] | None:
            if self._reading.done():
                self._reading.result()  # raises what ended it
            return self.events if len(self.events) >= count else None

        return await eventually(enough, timeout=timeout, what=f"{count} {what}")

    async def ended(self) -> None:
        """Until the server ends the stream (raising what ended it, if it failed)."""
        await asyncio.shield(self._reading)

    async def _read(self) -> None:
        block = Block()
        async for line in self.response.aiter_lines():
            if line == "":
                if block.fields or block.comments:
                    self.blocks.append(block)
                block = Block()
            elif line.startswith(":"):
                block.comments.append(line[1:].strip())
            else:
                name, _, value = line.partition(":")
                block.fields[name] = value[1:] if value.startswith(" ") else value

    async def close(self) -> None:
        self._reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await self._reading


@contextlib.asynccontextmanager
async def event_stream(address: tuple[str, int], role: str, subject: str | None = None,
                       last_event_id: int | str | None = None, **claims: Any) -> AsyncIterator[EventStream]:
    """GET /stream on a served notifications as `role`; the answer's status is checked by the caller."""
    headers = bearer(role, subject, **claims)
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    async with event_stream_with(address, headers) as stream:
        yield stream


@contextlib.asynccontextmanager
async def event_stream_with(address: tuple[str, int], headers: dict[str, str]) -> AsyncIterator[EventStream]:
    """GET /stream on a served notifications with exactly these headers."""
    host, port = address
    async with (httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=httpx.Timeout(30.0)) as client,
                client.stream("GET", "/stream", headers=headers) as response):
        stream = EventStream(response)
        try:
            yield stream
        finally:
            await stream.close()
