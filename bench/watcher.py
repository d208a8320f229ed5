"""Watching what careplan stores: when each of its events reached its events table."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg
from tqdm import tqdm

from bench.stack import BenchError, ServiceGroup

CAREPLAN_CHANNEL = "careplan_events"  # eventsourcing NOTIFYs on the table name
CAREPLAN_TABLE = "careplan.careplan_events"
STALL_TIMEOUT = 30.0      # waiting for careplan fails if it stores nothing new for this long


@dataclass
class Tally:
    """Careplan events stored for a set of people, at or above a version."""

    person_ids: set[UUID]
    min_version: int
    stride: int = 1  # careplan events per counted thing; the last of each is the one counted
    count: int = 0
    last_stored_at: float = 0.0  # perf_counter when the latest counted event was seen
    first_stored_at: dict[UUID, float] = field(default_factory=dict)  # per person, the first counted event


class CareplanWatcher:
    """Follows careplan's events table: LISTEN on its channel and, on each NOTIFY, reads the rows
    after the last one seen. A row's time is when our SELECT returned it: at most a few ms after
    its commit, so latencies are, if anything, slightly overstated."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._news = asyncio.Event()
        self._tallies: list[Tally] = []
        # Every event seen, per person: version -> when. Lets a tally count events stored before
        # it was created (careplan applies registrations while the later ones are still being sent).
        self._history: dict[UUID, dict[int, float]] = {}
        self._last_id = 0
        self._task: asyncio.Task[None] | None = None
        self._listen: asyncpg.Connection | None = None
        self._query: asyncpg.Connection | None = None
        self.changed = asyncio.Event()

    async def start(self) -> None:
        self._listen = await asyncpg.connect(self._database_url, timeout=10)
        # A custom plan for each read: the generic plan of "notification_id > $1" expects a third
        # of the table and may scan all of it, which cost PostgreSQL more CPU than intake's commits.
        self._query = await asyncpg.connect(self._database_url, timeout=10,
                                            server_settings={"plan_cache_mode": "force_custom_plan"})
        await self._listen.add_listener(CAREPLAN_CHANNEL, lambda *_: self._news.set())
        self._last_id = await self._query.fetchval(f"SELECT coalesce(max(notification_id), 0) FROM {CAREPLAN_TABLE}")
        self._task = asyncio.create_task(self._follow(), name="careplan-watcher")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for connection in (self._listen, self._query):
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()

    def track(self, person_ids: Iterable[UUID], min_version: int, stride: int = 1) -> Tally:
        tally = Tally(set(person_ids), min_version, stride)
        for person_id in tally.person_ids:
            for version, seen_at in sorted(self._history.get(person_id, {}).items()):
                self._count_in(tally, person_id, version, seen_at)
        self._tallies.append(tally)
        return tally

    def untrack(self, tally: Tally) -> None:
        self._tallies.remove(tally)

    def failed(self) -> BaseException | None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            return self._task.exception()
        return None

    async def _follow(self) -> None:
        assert self._query is not None
        select = await self._query.prepare(
            f"SELECT notification_id, originator_id, originator_version FROM {CAREPLAN_TABLE} "
            "WHERE notification_id > $1 ORDER BY notification_id"
        )
        while True:
            # A fallback read every 0.5 s, in case a NOTIFY is ever missed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), timeout=0.5)
            self._news.clear()
            rows = await select.fetch(self._last_id)
            if not rows:
                continue
            seen_at = time.perf_counter()
            # eventsourcing serialises inserts with a table lock, so ids are in commit order and
            # none can appear later below the last one read.
            self._last_id = rows[-1]["notification_id"]
            for row in rows:
                self._count(row["originator_id"], row["originator_version"], seen_at)
            self.changed.set()

    def _count(self, person_id: UUID, version: int, seen_at: float) -> None:
        self._history.setdefault(person_id, {})[version] = seen_at
        for tally in self._tallies:
            self._count_in(tally, person_id, version, seen_at)

    @staticmethod
    def _count_in(tally: Tally, person_id: UUID, version: int, seen_at: float) -> None:
        offset = version - tally.min_version
        if offset >= 0 and offset % tally.stride == tally.stride - 1 and person_id in tally.person_ids:
            tally.count += 1
            tally.last_stored_at = max(tally.last_stored_at, seen_at)
            if offset == tally.stride - 1:
                tally.first_stored_at.setdefault(person_id, seen_at)

    async def wait_for_count(self, tally: Tally, target: int, what: str, services: ServiceGroup,
                             bar: tqdm | None = None, stall_timeout: float = STALL_TIMEOUT) -> None:
        """Until `tally` reaches `target`; fails if careplan stores nothing new for `stall_timeout`."""
        last_progress, last_count = time.monotonic(), tally.count
        while tally.count < target:
            services.check_alive()
            if (error := self.failed()) is not None:
                raise BenchError(f"lost track of careplan's events table: {error!r}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=1.0)
            if bar is not None:
                bar.update(tally.count - bar.n)
            if tally.count != last_count:
                last_progress, last_count = time.monotonic(), tally.count
            elif time.monotonic() - last_progress > stall_timeout:
                raise BenchError(
                    f"waiting for {what}: careplan stored {tally.count}/{target} and nothing new for "
                    f"{stall_timeout:.0f}s; see the service logs ({services.processes[0].log_path.parent})"
                )
        if bar is not None:
            bar.update(tally.count - bar.n)
