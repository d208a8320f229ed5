"""The outbox relay: follows a service's event log and publishes it, in order, at least once.

The event store is the outbox. The relay reads notifications after its last confirmed position,
maps each domain event to an integration event, publishes the batch with publisher confirms and
only then records the new position. A crash between publishing and recording republishes the
batch; the stable event ids and consumers' tracking make that harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from shared.contracts.base import Payload
from shared.envelope import Actor, AnyIntegrationEvent, IntegrationEvent, stable_event_id

log = logging.getLogger(__name__)

RunSync = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Outgoing:
    event: AnyIntegrationEvent
    traceparent: str | None


class EventPublisher(Protocol):
    async def publish_in_order(self, batch: Sequence[Outgoing]) -> None: ...


class RelayPositions:
    """The last position each relay has seen confirmed, in the service's own schema."""

    def __init__(self, dsn: str, schema: str) -> None:
        self._dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._table = f'"{schema}".relay_positions'

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=2)
        await self._pool.execute(
            f"CREATE TABLE IF NOT EXISTS {self._table} (relay text PRIMARY KEY, position bigint NOT NULL)"
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def load(self, relay: str) -> int:
        position = await self._pool.fetchval(  # type: ignore[union-attr]
           f"SELECT position FROM {self._table} WHERE relay = $1", relay)
        return position or 0

    async def save(self, relay: str, position: int) -> None:
        await self._pool.execute(  # type: ignore[union-attr]
            f"INSERT INTO {self._table} (relay, position) VALUES ($1, $2) "
            "ON CONFLICT (relay) DO UPDATE SET position = EXCLUDED.position",
            relay,
            position,
        )


def to_integration_event(source: str, notification_id: int, domain_event: Any, payload: Payload) -> Outgoing:
    """Wrap one stored event of a person's stream (aggregate id = person id) in its envelope."""
    provenance = domain_event.provenance
    event = IntegrationEvent[dict[str, Any]](
        event_id=stable_event_id(source, domain_event.originator_id, domain_event.originator_version),
        type=payload.event_type,
        version=payload.version,
        source=source,
        position=notification_id,
        person_id=domain_event.originator_id,
        person_sequence=domain_event.originator_version,
        occurred_at=domain_event.timestamp,
        correlation_id=provenance.correlation_id,
        causation_id=provenance.causation_id,
        actor=Actor(id=provenance.actor_id, role=provenance.actor_role),
        payload=payload.model_dump(mode="json"),
    )
    return Outgoing(event, provenance.traceparent)


class OutboxRelay:
    def __init__(
        self,
        source: str,
        application: Application,
        to_payload: Callable[[Any], Payload],
        publisher: EventPublisher,
        positions: RelayPositions,
        run_sync: RunSync,
        batch_size: int = 500,
        idle_poll_seconds: float = 1.0,
    ) -> None:
        self.source = source
        self.name = f"{source}-relay"
        self._application = application
        self._to_payload = to_payload
        self._publisher = publisher
        self._positions = positions
        self._run_sync = run_sync
        self._batch_size = batch_size
        self._idle_poll_seconds = idle_poll_seconds
        self._wakeup = asyncio.Event()
        self._saving: asyncio.Task[None] | None = None
        self.position = 0

    def wake(self) -> None:
        """Something new was recorded (LISTEN/NOTIFY, or a save in this process)."""
        self._wakeup.set()

    async def run(self) -> None:
        """Publish forever; failures of the broker or database are waited out, never skipped."""
        failures = 0
        loaded = False
        try:
            while True:
                try:
                    if not loaded:
                        await self._positions.open()
                        self.position = await self._positions.load(self.name)
                        loaded = True
                    published = await self._publish_next_batch(save_behind=True)
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # noqa: BLE001 - wait, then retry from the saved position
                    failures += 1
                    delay = min(0.1 * 2**failures, 5.0)
                    log.warning("relay %s failed at position %s (%s); retrying in %.1fs",
                                self.name, self.position, error, delay, extra={"relay": self.name})
                    await asyncio.sleep(delay)
                    continue
                if not published:
                    await self._wait_for_news()
        finally:
            with contextlib.suppress(Exception):  # also when cancelled: keep the last confirmed position
                await self._saved()
            await self._positions.close()

    async def publish_next_batch(self) -> int:
        """Publish the events after `position` and save the new position; the number published."""
        return await self._publish_next_batch(save_behind=False)

    async def _publish_next_batch(self, save_behind: bool) -> int:
        # save_behind: the position write (a commit, several ms under load) overlaps with reading
        # and publishing the next batch instead of delaying it. The saved position still only
        # ever moves to confirmed events, and in order: each write waits for the one before.
        notifications: Sequence[Notification] = await self._run_sync(
            self._application.recorder.select_notifications,
            self.position,
            self._batch_size,
            inclusive_of_start=False,
        )
        if not notifications:
            await self._saved()
            return 0
        batch = [self._outgoing(n) for n in notifications]
        await self._publisher.publish_in_order(batch)
        last = notifications[-1].id
        await self._saved()
        if save_behind:
            self._saving = asyncio.ensure_future(self._positions.save(self.name, last))
        else:
            await self._positions.save(self.name, last)
        self.position = last
        return len(batch)

    async def _saved(self) -> None:
        """Wait for the position write in flight, if any; raise if it failed."""
        saving, self._saving = self._saving, None
        if saving is not None:
            await saving

    def _outgoing(self, notification: Notification) -> Outgoing:
        domain_event = self._application.mapper.to_domain_event(notification)
        return to_integration_event(self.source, notification.id, domain_event, self._to_payload(domain_event))

    async def _wait_for_news(self) -> None:
        self._wakeup.clear()
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout=self._idle_poll_seconds)
        except TimeoutError:
            pass


class LogListener:
    """Wakes a relay when PostgreSQL NOTIFYs that its event table changed (any process)."""

    def __init__(self, dsn: str, channel: str, on_notify: Callable[[], None]) -> None:
        self._dsn = dsn
        self._channel = channel
        self._on_notify = on_notify

    async def run(self) -> None:
        while True:
            try:
                connection = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("cannot listen for new events (%s); relay falls back to polling", error)
                await asyncio.sleep(2.0)
                continue
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _conn: lost.set())
            try:
                await connection.add_listener(self._channel, lambda *_: self._on_notify())
                self._on_notify()  # catch up on anything recorded while not listening
                await lost.wait()
            finally:
                if not connection.is_closed():
                    await connection.close()
