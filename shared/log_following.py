"""The loop every follower of a service's event log runs (the outbox relay, a projection).

It takes one step after another: a step that found nothing to do waits to be woken (LISTEN/NOTIFY,
or a save in this process) or for the idle poll; a step that failed is retried with backoff from
what was last stored, so a database or broker outage is waited out and never skipped.
"""

from __future__ import annotations

import asyncio
import logging
import math
from abc import ABC, abstractmethod

log = logging.getLogger(__name__)


class FollowingLoop(ABC):
    name: str
    kind: str  # names the follower in logs: "relay", "projection"
    follows: frozenset[str] | None = None  # the topics it reads (None: all); others do not wake it

    def __init__(self, idle_poll_seconds: float, min_step_interval_seconds: float = 0.0) -> None:
        self._idle_poll_seconds = idle_poll_seconds
        # A follower off the critical path (a projection) can take its steps at most this often:
        # under load each step then takes many commits' events for its fixed cost (queries, a
        # transaction), instead of one step per commit of the service.
        self._min_step_interval = min_step_interval_seconds
        self._wakeup = asyncio.Event()
        self.position = 0

    def wake(self, topics: frozenset[str] | None = None) -> None:
        """Something new was recorded: events of these topics (None: of any)."""
        if topics is None or self.follows is None or not self.follows.isdisjoint(topics):
            self._wakeup.set()

    @abstractmethod
    async def _step(self) -> bool:
        """Do the next piece of work; False when there was nothing to do (then wait for news)."""

    async def _follow(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        last_step = -math.inf
        while True:
            if (wait := last_step + self._min_step_interval - loop.time()) > 0:
                await asyncio.sleep(wait)
            last_step = loop.time()
            # Cleared before the step, not after: news that arrives while the step reads belongs
            # to the next step (cleared after, it was lost, and the follower slept a whole poll).
            self._wakeup.clear()
            try:
                busy = await self._step()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - wait, then retry from the stored position
                failures += 1
                delay = min(0.1 * 2**failures, 5.0)
                log.warning("%s %s failed at position %s (%s); retrying in %.1fs", self.kind, self.name,
                            self.position, error, delay, extra={self.kind: self.name})
                await asyncio.sleep(delay)
                continue
            if not busy:
                await self._wait_for_news()

    async def _wait_for_news(self) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout=self._idle_poll_seconds)
        except TimeoutError:
            pass
