"""How a tailer of its service's own log (shared/log_tailing.py: the outbox relay, a projection) reads it.

`read_log` gives the next notifications of the topics it reads and how far the log has been
read. `PostgresLogReader` does that with one asyncpg statement on the event loop; elsewhere (the
in-memory recorder of unit tests) `ThreadedLogReader` runs `read_log` on the service's pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import asyncpg
from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Notification
from eventsourcing.postgres import PostgresApplicationRecorder

from shared.pools import create_pool
from shared.tracing import untraced

RunSync = Callable[..., Awaitable[Any]]
NO_STOP = 2**63 - 1


def read_log(recorder: ApplicationRecorder, after: int, limit: int, topics: Sequence[str],
             stop: int | None = None) -> tuple[Sequence[Notification], int]:
    """The next notifications of `topics` after `after` (at most `limit`), and how far the log
    has been read: a tailer goes on from there, not from the last notification it was given.

    A tailer interested in some topics only (a relay publishes only some aggregates) would
    otherwise read again, at every wake-up, everything since the last event it wanted: careplan's
    relay rescanned the whole timeline history at each commit. Reading up to the maximum id seen
    first is safe: eventsourcing locks the table for each insert, so ids commit in order and no
    lower id can appear later. Synchronous: run it on the service's pool.
    """
    last = (recorder.max_notification_id() or 0) if stop is None else stop
    if last <= after:
        return [], after
    notifications = recorder.select_notifications(after, limit, stop=last, topics=topics, inclusive_of_start=False)
    read_to = notifications[-1].id if len(notifications) == limit else last
    return notifications, read_to


class LogReader(Protocol):
    async def read(self, after: int, limit: int, topics: Sequence[str],
                   stop: int | None = None) -> tuple[Sequence[Notification], int]:
        """`read_log`."""

    async def close(self) -> None: ...


class ThreadedLogReader:
    """`read_log` on the service's thread pool (any recorder)."""

    def __init__(self, recorder: ApplicationRecorder, run_sync: RunSync) -> None:
        self._recorder = recorder
        self._run_sync = run_sync

    async def read(self, after: int, limit: int, topics: Sequence[str],
                   stop: int | None = None) -> tuple[Sequence[Notification], int]:
        return await self._run_sync(read_log, self._recorder, after, limit, topics, stop)

    async def close(self) -> None:
        pass


class PostgresLogReader:
    """`read_log` in one asyncpg statement, on the event loop.

    Through eventsourcing the same read was two psycopg queries and a thread hop: ~530 us of CPU
    on this project's machines for one event, paid by the relay for every commit at moderate
    load. The log's end and the batch come from one statement (the maximum id is read first, in
    the same snapshot, so the batch never passes it). The statement is prepared: `+ 0` keeps the
    end out of the index condition, so that the generic plan is the ordered index scan that stops
    at the batch's limit, whatever the statistics say of the range (with both bounds it was, on a
    small table, a bitmap scan of the whole range and a sort: a rebuild from zero would read the
    rest of the log for every batch)."""

    def __init__(self, dsn: str, schema: str, table: str) -> None:
        self._dsn = dsn
        events = f'"{schema}"."{table}"'
        self._statement = (
            f"SELECT log.end_id, e.notification_id, e.originator_id, e.originator_version, e.topic, e.state "
            f"FROM (SELECT least(coalesce(max(notification_id), 0), $4) AS end_id FROM {events}) AS log "
            f"LEFT JOIN LATERAL (SELECT * FROM {events} AS n WHERE n.notification_id > $1 "
            f"AND n.notification_id + 0 <= log.end_id AND (cardinality($2::text[]) = 0 OR n.topic = ANY($2::text[])) "
            f"ORDER BY n.notification_id LIMIT $3) AS e ON true ORDER BY e.notification_id"
        )
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()  # followers sharing a reader open one pool, not one each

    async def read(self, after: int, limit: int, topics: Sequence[str],
                   stop: int | None = None) -> tuple[Sequence[Notification], int]:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await create_pool(self._dsn, min_size=1, max_size=1)
        with untraced():
            rows = await self._pool.fetch(self._statement, after, list(topics), limit, NO_STOP if stop is None else stop)
        notifications = [
            Notification(id=row["notification_id"], originator_id=row["originator_id"],
                         originator_version=row["originator_version"], topic=row["topic"], state=bytes(row["state"]))
            for row in rows if row["notification_id"] is not None
        ]
        if len(notifications) == limit:
            return notifications, notifications[-1].id
        return notifications, max(after, rows[0]["end_id"])

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def log_reader(application: Application, run_sync: RunSync, dsn: str | None) -> LogReader:
    """The fastest reader for the application's recorder."""
    recorder = application.recorder
    if dsn is not None and isinstance(recorder, PostgresApplicationRecorder):
        return PostgresLogReader(dsn, recorder.datastore.schema, recorder.events_table_name)
    return ThreadedLogReader(recorder, run_sync)
