"""The outbox relay: tails a service's event log and publishes it, in order, at least once.

The event store is the outbox. The relay reads notifications after its last confirmed position,
maps each domain event to an integration event, publishes the batch with publisher confirms and
only then records the new position. A crash between publishing and recording republishes the
batch; the stable event ids and consumers' tracking make that harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from shared.contracts.base import Payload
from shared.envelope import Actor, AnyIntegrationEvent, IntegrationEvent, stable_event_id
from shared.hop_marks import is_crisis_event, mark, marking
from shared.log_tailing import LogTailLoop
from shared.log_reading import LogReader, ThreadedLogReader
from shared.pools import create_pool
from shared.topics import stored_topics
from shared.tracing import untraced

log = logging.getLogger(__name__)

RunSync = Callable[..., Awaitable[Any]]
# Domain event class -> the function that maps it to its published payload.
Translations = Mapping[type, Callable[[Any], Payload]]


@dataclass(frozen=True)
class Outgoing:
    event: AnyIntegrationEvent
    traceparent: str | None


class EventPublisher(Protocol):
    async def publish_in_order(self, batch: Sequence[Outgoing]) -> None: ...


class RelayPositions:
    """The last position each relay has seen confirmed, in the service's own schema, and the lease
    that lets only one relay per service publish at a time (replicas of a service stand by)."""

    def __init__(self, dsn: str, schema: str) -> None:
        self._dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._lease: asyncpg.Connection | None = None
        self._table = f'"{schema}".relay_positions'

    async def hold_lease(self, relay: str) -> bool:
        """True while this process holds the relay's session advisory lock (taken if free)."""
        if self._lease is not None and not self._lease.is_closed():
            return True
        self._lease = await asyncpg.connect(self._dsn)
        if await self._lease.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", relay):
            return True
        await self._lease.close()
        self._lease = None
        return False

    async def open(self) -> None:
        self._pool = await create_pool(self._dsn, min_size=1, max_size=2)
        await self._pool.execute(
            f"CREATE TABLE IF NOT EXISTS {self._table} (relay text PRIMARY KEY, position bigint NOT NULL)"
        )

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    def _opened(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("relay positions used before open()")
        return self._pool

    async def close(self) -> None:
        if self._lease is not None:
            await self._lease.close()  # releases the advisory lock: a standby takes over
        if self._pool is not None:
            await self._pool.close()

    async def load(self, relay: str) -> int:
        with untraced():
            position = await self._opened().fetchval(f"SELECT position FROM {self._table} WHERE relay = $1", relay)
        return position or 0

    async def save(self, relay: str, position: int) -> None:
        with untraced():
            await self._opened().execute(
                f"INSERT INTO {self._table} (relay, position) VALUES ($1, $2) "
                "ON CONFLICT (relay) DO UPDATE SET position = EXCLUDED.position",
                relay,
                position,
            )


def stream_name(source: str, domain_event: Any) -> str:
    """`Person.ScreeningRecorded` from intake is on stream `intake.person`."""
    aggregate = type(domain_event).__qualname__.split(".")[0]
    return f"{source}.{re.sub(r'(?<!^)(?=[A-Z])', '_', aggregate).lower()}"


def to_integration_event(source: str, notification_id: int, domain_event: Any, payload: Payload) -> Outgoing:
    """Wrap one stored event of a person's stream in its envelope.

    A published aggregate is one per person, so its versions are the person's sequence on that
    stream; every event of it names the person (shared/person_aggregate.py).
    """
    provenance = domain_event.provenance
    event = IntegrationEvent[dict[str, Any]](
        event_id=stable_event_id(source, domain_event.originator_id, domain_event.originator_version),
        type=payload.event_type,
        version=payload.version,
        source=source,
        stream=stream_name(source, domain_event),
        position=notification_id,
        person_id=domain_event.person_id,
        person_sequence=domain_event.originator_version,
        occurred_at=domain_event.timestamp,
        correlation_id=provenance.correlation_id,
        causation_id=provenance.causation_id,
        actor=Actor(id=provenance.actor_id, role=provenance.actor_role),
        payload=payload.model_dump(mode="json"),
    )
    return Outgoing(event, provenance.traceparent)


class OutboxRelay(LogTailLoop):
    kind = "relay"

    def __init__(
        self,
        source: str,
        application: Application,
        translations: Translations,
        publisher: EventPublisher,
        positions: RelayPositions,
        run_sync: RunSync,
        batch_size: int = 500,
        idle_poll_seconds: float = 1.0,
        save_interval_seconds: float = 0.25,
        reader: LogReader | None = None,
        on_published: Callable[[int, int], None] | None = None,
    ) -> None:
        self.source = source
        self.name = f"{source}-relay"
        self._application = application
        self._translations = translations
        # Only published aggregates' events: a service's log also holds what it keeps to itself.
        self._topics = [topic for event_class in translations for topic in stored_topics(event_class)]
        self.wakes_for = frozenset(self._topics)
        self.publisher = publisher  # what the relay publishes through (a test may publish as it would)
        self._positions = positions
        self._run_sync = run_sync
        self._reader = reader or ThreadedLogReader(application.recorder, run_sync)
        self._batch_size = batch_size
        self._saving: asyncio.Task[None] | None = None
        # While busy, the position is written at most this often (and at once when idle or
        # stopping): a commit per batch cost a fifth of intake's transactions. After a crash at
        # most this much is republished, and consumers ignore what they have already applied.
        self._save_interval = save_interval_seconds
        self._saved_at = -math.inf  # the first batch is written at once
        self._unsaved: int | None = None
        self._loaded = False
        # Told (events published, new position) after each confirmed batch: the service's metrics.
        self._on_published = on_published
        super().__init__(idle_poll_seconds)

    async def run(self) -> None:
        """Publish forever; failures of the broker or database are waited out, never skipped."""
        try:
            await self.tail()
        finally:
            with contextlib.suppress(Exception):  # also when cancelled: keep the last confirmed position
                await self._saved()
                await self._save_deferred()
            await self._positions.close()
            await self._reader.close()

    async def step(self) -> bool:
        if not await self._positions.hold_lease(self.name):
            self._loaded = False  # another replica publishes; stand by
            await asyncio.sleep(self._idle_poll_seconds * 2)
            return True  # then ask for the lease again
        if not self._loaded:
            # The position is read after taking the lease: a previous holder moved it.
            if not self._positions.is_open:
                await self._positions.open()
            self.position = await self._positions.load(self.name)
            self._loaded = True
        return bool(await self._publish_next_batch(save_behind=True))

    async def publish_next_batch(self) -> int:
        """Publish the events after `position` and save the new position; the number published."""
        return await self._publish_next_batch(save_behind=False)

    async def _publish_next_batch(self, save_behind: bool) -> int:
        # save_behind: the position write (a commit, several ms under load) overlaps with reading
        # and publishing the next batch instead of delaying it. The saved position still only
        # ever moves to confirmed events, and in order: each write waits for the one before.
        notifications, last = await self._reader.read(self.position, self._batch_size, self._topics)
        if not notifications:
            # Nothing to publish up to `last`: read on from there (saved with the next batch).
            self.position = last
            await self._saved()
            await self._save_deferred()  # idle now: write what was put off while busy
            return 0
        read_at = time.time()
        batch = [self._outgoing(n) for n in notifications]
        await self.publisher.publish_in_order(batch)
        if marking():
            for item in batch:
                if is_crisis_event(item.event.type):
                    mark("relay read", item.event.person_id, read_at)
                    mark("relay published", item.event.person_id)
        await self._saved()
        self.position = last
        if self._on_published is not None:
            self._on_published(len(batch), last)
        if not save_behind:
            self._unsaved = None
            await self._positions.save(self.name, last)
        elif asyncio.get_running_loop().time() - self._saved_at >= self._save_interval:
            self._unsaved = None
            self._saved_at = asyncio.get_running_loop().time()
            self._saving = asyncio.ensure_future(self._positions.save(self.name, last))
        else:
            self._unsaved = last
        return len(batch)

    async def _saved(self) -> None:
        """Wait for the position write in flight, if any; raise if it failed."""
        saving, self._saving = self._saving, None
        if saving is not None:
            await saving

    async def _save_deferred(self) -> None:
        if self._unsaved is not None:
            await self._positions.save(self.name, self._unsaved)
            self._unsaved = None
            self._saved_at = asyncio.get_running_loop().time()

    def _outgoing(self, notification: Notification) -> Outgoing:
        domain_event = self._application.mapper.to_domain_event(notification)
        payload = self._translations[type(domain_event)](domain_event)
        return to_integration_event(self.source, notification.id, domain_event, payload)

class LogListener:
    """Wakes a relay (and a service's other log tailers) when PostgreSQL NOTIFYs that its event
    table changed (any process), with the topics recorded (None: any)."""

    def __init__(self, dsn: str, channel: str, on_notify: Callable[[frozenset[str] | None], None]) -> None:
        self._dsn = dsn
        self._channel = channel
        self._on_notify = on_notify

    async def run(self) -> None:
        while True:
            try:
                connection = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("cannot listen for new events (%s); falling back to polling", error)
                await asyncio.sleep(2.0)
                continue
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _conn: lost.set())
            try:
                await connection.add_listener(self._channel, lambda _c, _p, _ch, payload: self._on_notify(
                    frozenset(payload.split("\n")) if payload else None))  # the topics recorded (see notify_payload)
                self._on_notify(None)  # catch up on anything recorded while not listening
                await lost.wait()
            finally:
                if not connection.is_closed():
                    await connection.close()
