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
from collections import deque
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
from shared.relay_positions import RelayPositions
from shared.topics import stored_topics

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
        batches_in_flight: int = 4,
        pipelined_batch_limit: int = 100,
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
        # Batches published and not confirmed yet, oldest first: (confirming, position read to,
        # events). The next batch is read and published without waiting for the confirms of the
        # ones before (a crisis committed meanwhile is not held up by a routine batch's round trip
        # to the quorum queue); positions move only to confirmed batches, in order. A batch larger
        # than the publisher's window of confirms is published in windows, so nothing is published
        # after it before it is all confirmed (the broker's order is the call order).
        self._in_flight: deque[tuple[asyncio.Future[None], int, int]] = deque()
        self._read_to = 0
        self._batches_in_flight = batches_in_flight
        self._pipelined_batch_limit = pipelined_batch_limit
        super().__init__(idle_poll_seconds)

    async def run(self) -> None:
        """Publish forever; failures of the broker or database are waited out, never skipped."""
        try:
            await self.tail()
        finally:
            with contextlib.suppress(Exception):  # also when cancelled: keep the last confirmed position
                await self._settle(block=False)
                await self._abandon_in_flight()
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
            self.position = self._read_to = await self._positions.load(self.name)
            self._loaded = True
        return await self._publish_pipelined()

    async def _publish_pipelined(self) -> bool:
        """Publish the next batch, confirmed batches taken as published (waiting for the oldest
        when as many as allowed are in flight); False when idle: nothing to read, none in flight."""
        await self._settle(block=len(self._in_flight) >= self._batches_in_flight)
        notifications, last = await self._reader.read(self._read_to, self._batch_size, self._topics)
        if notifications:
            batch = [self._outgoing(n) for n in notifications]
            self._read_to = last
            confirming = asyncio.ensure_future(self.publisher.publish_in_order(batch))
            self._in_flight.append((confirming, last, len(batch)))
            if marking():
                _mark_crises(batch, confirming)
            if len(batch) > self._pipelined_batch_limit:
                while self._in_flight:
                    await self._settle(block=True)
            return True
        self._read_to = last
        if self._in_flight:  # the oldest batch's confirms, or news to publish meanwhile
            news = asyncio.ensure_future(self._news.wait())
            try:
                await asyncio.wait((self._in_flight[0][0], news), return_when=asyncio.FIRST_COMPLETED)
            finally:
                news.cancel()
            return True
        # Nothing to publish up to `last`: read on from there (saved with the next batch).
        self.position = last
        await self._saved()
        await self._save_deferred()  # idle now: write what was put off while busy
        return False

    async def _settle(self, block: bool) -> None:
        """Take the batches confirmed so far as published, in order (with `block`, the oldest
        after waiting for it). A failed batch ends the pipeline: what followed it is published
        again from the confirmed position (consumers ignore what they already have)."""
        while self._in_flight:
            confirming, last, count = self._in_flight[0]
            if not confirming.done() and not block:
                return
            block = False
            try:
                await confirming
            except BaseException:
                await self._abandon_in_flight()
                raise
            self._in_flight.popleft()
            await self._published(count, last, save_behind=True)

    async def _abandon_in_flight(self) -> None:
        for confirming, _, _ in self._in_flight:
            confirming.cancel()
        for confirming, _, _ in self._in_flight:
            with contextlib.suppress(BaseException):
                await confirming
        self._in_flight.clear()
        self._read_to = self.position

    async def publish_next_batch(self) -> int:
        """Publish the events after `position`, wait for their confirms and save the new position
        (not behind: a test's or a tool's single step); the number published."""
        notifications, last = await self._reader.read(self.position, self._batch_size, self._topics)
        if not notifications:
            self.position = self._read_to = last
            await self._saved()
            await self._save_deferred()
            return 0
        batch = [self._outgoing(n) for n in notifications]
        await self.publisher.publish_in_order(batch)
        await self._published(len(batch), last, save_behind=False)
        self._read_to = self.position
        return len(batch)

    async def _published(self, count: int, last: int, save_behind: bool) -> None:
        """A batch of `count` events up to `last` is confirmed: the position moves there. With
        `save_behind` the position write (a commit, several ms under load) overlaps with what
        follows, and at most every `save_interval_seconds` while busy; writes stay in order."""
        await self._saved()
        self.position = last
        if self._on_published is not None:
            self._on_published(count, last)
        if not save_behind:
            self._unsaved = None
            await self._positions.save(self.name, last)
        elif asyncio.get_running_loop().time() - self._saved_at >= self._save_interval:
            self._unsaved = None
            self._saved_at = asyncio.get_running_loop().time()
            self._saving = asyncio.ensure_future(self._positions.save(self.name, last))
        else:
            self._unsaved = last

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


def _mark_crises(batch: Sequence[Outgoing], confirming: asyncio.Future[None]) -> None:
    """Hop marks (shared/hop_marks.py) of the crises in a batch: published now, confirmed later."""
    people = [item.event.person_id for item in batch if is_crisis_event(item.event.type)]
    for person_id in people:
        mark("relay read", person_id)
    def confirmed(_: object) -> None:
        for person_id in people:
            mark("relay published", person_id)
    if people:
        confirming.add_done_callback(confirmed)
