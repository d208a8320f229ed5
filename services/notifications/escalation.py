"""The crisis follow-up timer: takes each follow-up's steps (reminder, escalations) when they fall
due, from due times kept in the store, so that it survives restarts and never sleeps in memory.

Two parts, one loop (a `LogTailer` of the service, woken by LISTEN/NOTIFY like the relay):
- the schedule: a small table, one row per open follow-up with the time of its next step, kept
  up to date from notifications' own log (the events that change a follow-up) with the position
  read, in one transaction. It is derived: each person's rows are rewritten from their aggregate
  as it is now, so reading an event twice changes nothing, and dropping the table rebuilds it.
- the steps: each pass takes the people with a row due by the clock and asks the application to
  take their due steps. The aggregate decides what is due, and records each step with its
  NotificationDue in one save: a row that is stale, a pass repeated after a crash, or two replicas
  firing at once take no step twice (the second save is refused on the aggregate's version).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from uuid import UUID

import asyncpg

from services.notifications.application import NotificationsApplication
from services.notifications.domain.follow_ups import crisis_follow_up_events
from services.notifications.domain.notifications import PersonNotifications
from shared.log_tailing import LogTailLoop
from shared.log_reading import LogReader, ThreadedLogReader
from shared.pools import create_pool
from shared.relay import RunSync
from shared.topics import recorded_as, stored_topics

log = logging.getLogger(__name__)
Clock = Callable[[], float]  # seconds since the epoch, like time.time (tests pass a FakeClock)


def follow_up_topics() -> list[str]:
    return [topic for name in crisis_follow_up_events()
            for event_class in recorded_as(PersonNotifications, getattr(PersonNotifications, name))
            for topic in stored_topics(event_class)]


class FollowUpSchedule:
    """The timer's table of next steps and its position in the log, in the service's schema."""

    def __init__(self, dsn: str, schema: str, name: str = "crisis-follow-ups") -> None:
        self._dsn = dsn
        self.name = name
        self._rows = f'"{schema}".crisis_follow_up_timers'
        self._positions = f'"{schema}".crisis_follow_up_timer_position'
        self._pool: asyncpg.Pool | None = None

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            pool = await create_pool(self._dsn, min_size=1, max_size=2)
            try:
                await self._create_tables(pool)
            except BaseException:
                await pool.close()
                raise
            self._pool = pool
        return self._pool

    async def _create_tables(self, pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"{self._rows} ddl")
            await conn.execute(f"CREATE TABLE IF NOT EXISTS {self._rows} (person_id uuid NOT NULL, "
                               "contact_id text NOT NULL, next_at timestamptz NOT NULL, "
                               "PRIMARY KEY (person_id, contact_id))")
            await conn.execute(f"CREATE INDEX IF NOT EXISTS crisis_follow_up_timers_next_at ON {self._rows} (next_at)")
            await conn.execute(f"CREATE TABLE IF NOT EXISTS {self._positions} "
                               "(timer text PRIMARY KEY, position bigint NOT NULL)")
            await conn.execute(f"INSERT INTO {self._positions} VALUES ($1, 0) ON CONFLICT DO NOTHING", self.name)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def position(self) -> int:
        return await (await self.pool()).fetchval(
            f"SELECT position FROM {self._positions} WHERE timer = $1", self.name)

    async def replace(self, schedules: dict[UUID, dict[str, datetime]], expected: int, position: int) -> bool:
        """Rewrite these people's rows and move the position, unless another timer (a replica) moved
        it first or holds it now: False then, and the caller goes on from the stored position."""
        async with (await self.pool()).acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", self._positions):
                return False
            stored = await conn.fetchval(f"SELECT position FROM {self._positions} WHERE timer = $1 FOR UPDATE",
                                         self.name)
            if stored != expected:
                return False
            await conn.execute(f"DELETE FROM {self._rows} WHERE person_id = ANY($1::uuid[])", list(schedules))
            await conn.executemany(f"INSERT INTO {self._rows} (person_id, contact_id, next_at) VALUES ($1, $2, $3)",
                                   [(person_id, contact_id, next_at) for person_id, steps in schedules.items()
                                    for contact_id, next_at in steps.items()])
            await conn.execute(f"UPDATE {self._positions} SET position = $2 WHERE timer = $1", self.name, position)
        return True

    async def due(self, now: datetime, limit: int = 100) -> list[UUID]:
        """People with a step due by `now`, the longest waiting first."""
        rows = await (await self.pool()).fetch(
            f"SELECT person_id, min(next_at) AS first FROM {self._rows} WHERE next_at <= $1 "
            "GROUP BY person_id ORDER BY first LIMIT $2", now, limit)
        return [row["person_id"] for row in rows]


class FollowUpTimer(LogTailLoop):
    """Run by the service with its log tailers (shared/runtime.py); stopped with it."""

    kind = "timer"

    def __init__(self, application: NotificationsApplication, schedule: FollowUpSchedule, run_sync: RunSync,
                 clock: Clock = time.time, idle_poll_seconds: float = 5.0, batch_size: int = 500,
                 reader: LogReader | None = None) -> None:
        self.name = f"notifications-{schedule.name}-timer"
        self.schedule = schedule
        self._application = application
        self._run_sync = run_sync
        self._clock = clock
        self._batch_size = batch_size
        self._reader = reader or ThreadedLogReader(application.recorder, run_sync)
        self._topics = follow_up_topics()
        self.wakes_for = frozenset(self._topics)
        self._loaded = False
        self._read_to = 0
        # The idle poll is also how often due times are checked when nothing is recorded.
        super().__init__(idle_poll_seconds)

    async def run(self) -> None:
        try:
            await self.tail()
        finally:
            await self.schedule.close()
            await self._reader.close()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), timezone.utc)

    async def step(self) -> bool:
        if not self._loaded:
            self.position = await self.schedule.position()
            self._loaded = True
        scheduled = await self.schedule_next_batch()
        taken = await self.take_due_steps()
        return scheduled or taken > 0

    async def schedule_next_batch(self) -> bool:
        """Bring the table up to date with the next follow-up events in the log; True if any."""
        expected = self.position
        batch, read_to = await self._reader.read(max(expected, self._read_to), self._batch_size, self._topics)
        if not batch:
            self._read_to = read_to
            return False
        people = list(dict.fromkeys(notification.originator_id for notification in batch))
        schedules = await self._run_sync(self._application.follow_up_schedules, people)
        if await self.schedule.replace(schedules, expected, read_to):
            self.position = self._read_to = read_to
        else:
            self.position = await self.schedule.position()
        return True

    async def take_due_steps(self) -> int:
        """Take the steps due now; how many were taken (0 when every due row was stale)."""
        now = self.now()
        taken = 0
        for person_id in await self.schedule.due(now):
            steps = await self._run_sync(self._application.take_due_follow_up_steps, person_id, now)
            for contact_id, step in steps:
                log.info("crisis follow-up %s", step.value,
                         extra={"person_id": str(person_id), "contact_id": contact_id, "step": step.value})
            taken += len(steps)
        return taken

