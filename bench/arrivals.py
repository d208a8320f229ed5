"""Where crisis notices arrive, and when: webhook receivers and the live stream, timed in this process.

A crisis contact is expected on every channel (a webhook subscription's receiver, the SSE stream)
from the moment it is sent; an arrival for that person on that channel is matched to the oldest
crisis of theirs still expected there (notifications keeps each person's notices in order per
subscription and on the stream). Times are `time.perf_counter()`, taken as the request's body (or
the stream's event) has been read, before any answer is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.support.receiver import Answer, Received, Receiver, receiving

CRISIS_KIND = "crisis_follow_up"  # the notice a crisis contact makes due (urgent, the whole team)
SLOW_ANSWER_SECONDS = 0.2


@dataclass
class Crisis:
    """One crisis contact sent to intake, and when it reached each channel."""

    person_id: str
    sent: float
    accepted: float = float("nan")  # intake's 201 read by the client
    failed: str | None = None
    arrived: dict[str, float] = field(default_factory=dict)  # channel -> perf_counter


class Expectations:
    """Crises expected per channel and person, oldest first."""

    def __init__(self) -> None:
        self._waiting: dict[tuple[str, str], deque[Crisis]] = {}
        self.unexpected: dict[str, int] = {}  # crisis notices nobody waited for, per channel

    def expect(self, crisis: Crisis, channels: list[str]) -> None:
        for channel in channels:
            self._waiting.setdefault((channel, crisis.person_id), deque()).append(crisis)

    def arrived(self, channel: str, person_id: str, at: float) -> None:
        waiting = self._waiting.get((channel, person_id))
        if not waiting:
            self.unexpected[channel] = self.unexpected.get(channel, 0) + 1
            return
        waiting.popleft().arrived[channel] = at

    def forget(self, crisis: Crisis) -> None:
        """A crisis intake refused: nothing will arrive for it."""
        for (_, person_id), waiting in self._waiting.items():
            if person_id == crisis.person_id and crisis in waiting:
                waiting.remove(crisis)


class WebhookChannel:
    """A receiver of one subscription's deliveries: each verified with `standardwebhooks` (the
    subscription's secret), counted once per webhook-id (retries are not new arrivals)."""

    def __init__(self, name: str, receiver: Receiver, expectations: Expectations, slow: bool) -> None:
        self.name = name
        self.receiver = receiver
        self.url = receiver.url
        self._expectations = expectations
        self._verifier: Webhook | None = None
        self.secret = ""
        self._seen: set[str] = set()
        self._one_at_a_time = asyncio.Lock()
        self.slow = slow
        self.closing = False
        self.in_flight = 0
        self.routine = 0      # distinct routine deliveries received
        self.urgent = 0
        self.forged = 0       # failed verification
        self.baseline: dict[str, float] = {}  # webhook-id -> arrival, of the baseline's own posts
        receiver.answer = self._answer

    def use_secret(self, secret: str) -> None:
        self.secret = secret
        self._verifier = Webhook(secret)
        self._seen.clear()

    def _answer(self, got: Received) -> Answer | Coroutine[Any, Any, Answer]:
        at = time.perf_counter()
        if self._verifier is None:
            self.forged += 1
            return 400, {}, 0.0
        try:
            body: dict[str, Any] = self._verifier.verify(got.body, got.headers)
        except WebhookVerificationError:
            self.forged += 1
            return 400, {}, 0.0
        message_id = got.headers.get("webhook-id", "")
        if body.get("type") == "bench.baseline":
            self.baseline[message_id] = at
        elif message_id not in self._seen:
            self._seen.add(message_id)
            if body.get("urgency") == "urgent":
                self.urgent += 1
            else:
                self.routine += 1
            if body.get("kind") == CRISIS_KIND:
                self._expectations.arrived(self.name, str(body.get("person_id")), at)
        return self._slowly() if self.slow else (204, {}, 0.0)

    async def _slowly(self) -> Answer:
        # One request at a time, each answered after a while: a receiver that drains ~5/s. (The
        # arrival was timed above, before waiting: what is measured is notifications' part.)
        self.in_flight += 1
        try:
            async with self._one_at_a_time:
                if not self.closing:
                    await asyncio.sleep(SLOW_ANSWER_SECONDS)
        finally:
            self.in_flight -= 1
        return 204, {}, 0.0

    async def close(self) -> None:
        """Answer what waits at once, so that the server stops without cancelling requests."""
        self.closing = True
        deadline = time.monotonic() + 2.0
        while self.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # bounded by the deadline


@contextlib.asynccontextmanager
async def webhook_channel(name: str, expectations: Expectations, slow: bool = False) -> AsyncIterator[WebhookChannel]:
    """A real HTTP server on 127.0.0.1 (the tests' receiver: uvicorn in this event loop)."""
    async with receiving(f"/hooks/{name}") as receiver:
        receiver.received = _Discarding()
        channel = WebhookChannel(name, receiver, expectations, slow)
        try:
            yield channel
        finally:
            await channel.close()


class _Discarding(list):  # type: ignore[type-arg]
    """The tests' receiver keeps every request; the benchmark counts them instead."""

    def append(self, item: object) -> None:
        pass


class StreamChannel:
    """GET /stream on notifications as one staff member, read line by line with httpx (Server-Sent
    Events: a blank line ends a block, `:` starts a comment)."""

    name = "sse"

    def __init__(self, base_url: str, token: str, expectations: Expectations) -> None:
        self._base_url = base_url
        self._token = token
        self._expectations = expectations
        self.events = 0
        self.opened = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._read(), name="sse-reader")
        opened = asyncio.create_task(self.opened.wait())
        done, _ = await asyncio.wait({opened, self._task}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            opened.cancel()
            self._task.result()
        if opened not in done:
            opened.cancel()
            raise RuntimeError("the live stream did not open within 15 s")

    def failed(self) -> BaseException | None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            return self._task.exception() or RuntimeError("the live stream ended")
        return None

    async def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self._token}"}
        async with (httpx.AsyncClient(base_url=self._base_url, timeout=httpx.Timeout(30.0, read=None)) as client,
                    client.stream("GET", "/stream", headers=headers) as response):
            if response.status_code != 200:
                raise RuntimeError(f"GET /stream answered {response.status_code}")
            self.opened.set()
            data = ""
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    data = line[5:].strip()
                elif line == "" and data:
                    at = time.perf_counter()
                    notice = json.loads(data)
                    data = ""
                    self.events += 1
                    if notice.get("kind") == CRISIS_KIND:
                        self._expectations.arrived(self.name, str(notice.get("person_id")), at)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
