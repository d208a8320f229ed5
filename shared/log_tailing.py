"""The loop that tails a service's *own* event log: the outbox relay, the picture projection.

Not to be confused with following other services' events (shared/following.py: a
FollowerApplication applies them per person, in order). A tailer takes one step after another: a
step that found nothing to do waits to be woken (LISTEN/NOTIFY, or a save in this process) or for
the idle poll; a step that failed is retried with backoff from what was last stored, so a
database or broker outage is waited out and never skipped.
"""

from __future__ import annotations

import asyncio
import logging
import math
from abc import ABC, abstractmethod

log = logging.getLogger(__name__)


class LogTailLoop(ABC):
    """Subclasses say what one step does (`step`) and run `tail()` in their `run()`."""

    name: str
    kind: str  # names the tailer in logs: "relay", "projection"
    wakes_for: frozenset[str] | None = None  # the topics it reads (None: all); commits of others do not wake it

    def __init__(self, idle_poll_seconds: float, min_step_interval_seconds: float = 0.0) -> None:
        self._idle_poll_seconds = idle_poll_seconds
        # A tailer off the critical path (a projection) can take its steps at most this often:
        # under load each step then takes many commits' events for its fixed cost (queries, a
        # transaction), instead of one step per commit of the service.
        self._min_step_interval = min_step_interval_seconds
        self._news = asyncio.Event()
        self.position = 0

    def wake(self, topics: frozenset[str] | None = None) -> None:
        """Something new was recorded: events of these topics (None: of any)."""
        if topics is None or self.wakes_for is None or not self.wakes_for.isdisjoint(topics):
            self._news.set()

    @property
    def is_awake(self) -> bool:
        """Woken since its last step began: the next step starts without waiting for the poll."""
        return self._news.is_set()

    @abstractmethod
    async def step(self) -> bool:
        """Do the next piece of work; False when there was nothing to do (then wait for news)."""

    async def tail(self) -> None:
        """Take steps until cancelled: wait for news when idle, back off after a failure."""
        failures = 0
        loop = asyncio.get_running_loop()
        last_step = -math.inf
        while True:
            if (wait := last_step + self._min_step_interval - loop.time()) > 0:
                await asyncio.sleep(wait)
            last_step = loop.time()
            # Cleared before the step, not after: news that arrives while the step reads belongs
            # to the next step (cleared after, it was lost, and the tailer slept a whole poll).
            self._news.clear()
            try:
                busy = await self.step()
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
            await asyncio.wait_for(self._news.wait(), timeout=self._idle_poll_seconds)
        except TimeoutError:
            pass
