"""eventsourcing, set up the way every carecoord service uses it (see docs/architecture.md): the
application (aggregate cache, group-committed batches with their trackings), its recorders
(shared/batch_recorders.py) and transcodings (shared/transcodings.py), and the schema."""

from __future__ import annotations

import threading
from datetime import datetime
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg import sql

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    LRUCache,
    ProcessingEvent,
    Repository,
)
from eventsourcing.persistence import JSONTranscoder, Recording, Tracking
from eventsourcing.postgres import PostgresFactory

from shared.batch_recorders import POPOBatchProcessRecorder, PostgresBatchProcessRecorder
from shared.person_index import HistoryFilter, index_entries
from shared.settings import ServiceSettings
from shared.topics import stored_topics
from shared.transcodings import TRANSCODINGS

T = TypeVar("T")


def replay(aggregate: Any, events: Iterable[Any]) -> Any:
    """eventsourcing's `project_aggregate` without its `assert isinstance(event, CanMutateProtocol)`
    per event: on Python 3.11 a runtime protocol check walks the protocol's members every time,
    about a tenth of intake's pool CPU when bringing its kept copies up to date (measured). Every
    event stored here is an eventsourcing domain event, with `mutate`."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class ServiceApplication(Application):
    """An Application whose recorder can also record tracking, so that the effects of consumed
    messages and the record of having consumed them commit in one transaction.

    Commands load aggregates from the repository's cache without fast-forwarding, and a
    successful save puts the saved aggregate in the cache (see `eventsourcing_env`). So a
    command costs no query per aggregate. If another process wrote an aggregate meanwhile, the
    cached copy is stale and the save fails on the aggregate's version (optimistic concurrency):
    callers `forget` the aggregates and retry, which reloads them from the store. Queries
    (`read`, `read_current`) always answer as stored now, so a replica that does not write (a
    standby consumer) never answers from a stale cache.

    Group-committed work (intake's command batches, consumers' batches) `check_out`s the cached
    aggregate itself instead of a deep copy: copying a whole aggregate on every batch cost more
    than the change it was for. Other commands (`repository.get`) still get a deep copy.
    """

    # How many aggregates `read_current` keeps up to date (each is kept whole, like the cache).
    CURRENT_READS_MAXSIZE = 10_000

    recorder: PostgresBatchProcessRecorder | POPOBatchProcessRecorder  # see construct_recorder

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._store_reads: Repository = Repository(event_store=self.events, snapshot_store=self.snapshots)
        self._current: LRUCache[UUID, Any] = LRUCache(maxsize=self.CURRENT_READS_MAXSIZE)
        self._current_locks = KeyedThreadLocks()

    def read(self, aggregate_id: UUID) -> Any:
        """The aggregate as stored now, bypassing the cache (raises AggregateNotFoundError)."""
        return self._store_reads.get(aggregate_id)

    def read_current(self, aggregate_id: UUID, view: Callable[[Any], T]) -> T:
        """`view` of the aggregate as stored now (raises AggregateNotFoundError).

        Like `read`, this never answers from a stale copy, but it does not replay the whole
        history each time: it keeps its own copy of the aggregate and brings it up to date with
        one query for the events stored after it (usually none). Checking a caller's access on
        every request used to replay the person's history, which grows with every screening.
        `view` runs under the aggregate's lock and must copy out what it needs: the copy is
        changed in place by the next caller's fast-forward. Commands never see these copies.
        """
        found = self.read_current_many({aggregate_id: view})
        if aggregate_id not in found:
            raise AggregateNotFoundError(aggregate_id)
        return found[aggregate_id]

    def read_current_many(self, views: dict[UUID, Callable[[Any], Any]]) -> dict[UUID, Any]:
        """`read_current` for several aggregates in one query: each view of an aggregate that
        exists, keyed by its id (an aggregate that does not exist is left out)."""
        ids = sorted(views)  # locks taken in one order: two callers never wait on each other
        with ExitStack() as locks:
            for aggregate_id in ids:
                locks.enter_context(self._current_locks.hold(aggregate_id))
            kept = {}
            for aggregate_id in ids:
                with suppress(KeyError):
                    kept[aggregate_id] = self._current.get(aggregate_id)
            after = [(aggregate_id, kept[aggregate_id].version if aggregate_id in kept else 0) for aggregate_id in ids]
            new_events = self._events_after(after)
            found = {}
            for aggregate_id in ids:
                aggregate = replay(kept.get(aggregate_id), new_events[aggregate_id])
                if aggregate is None:
                    continue
                self._current.put(aggregate_id, aggregate)
                found[aggregate_id] = views[aggregate_id](aggregate)
            return found

    def check_out(self, aggregate_id: UUID) -> Any:
        """The aggregate to change and save, taken out of the cache (raises AggregateNotFoundError).

        The caller owns the object: while it is out, nobody else can see it half-changed, and a
        concurrent load finds no cached copy and reads the store. A successful save puts it back
        in the cache (eventsourcing's `_record`); after a failed save, or a change that raised,
        the caller simply drops it, and the next load reads the store. So the cache only ever
        holds aggregates as they were saved, without the deep copy `repository.get` makes.
        """
        cache = self.repository.cache
        if cache is not None:
            with suppress(KeyError):
                return cache.get(aggregate_id, evict=True)
        return self._store_reads.get(aggregate_id)

    def check_out_many(self, aggregate_ids: Iterable[UUID]) -> dict[UUID, Any]:
        """`check_out` for several aggregates, those not in the cache read with one query: the
        ones that exist, by id. (A consumer's batch is mostly people it has not seen lately, or
        whose follower does not exist yet: one query per person was a sixth of its CPU.)"""
        found: dict[UUID, Any] = {}
        missing: list[UUID] = []
        cache = self.repository.cache
        for aggregate_id in dict.fromkeys(aggregate_ids):
            try:
                if cache is None:
                    raise KeyError(aggregate_id)
                found[aggregate_id] = cache.get(aggregate_id, evict=True)
            except KeyError:
                missing.append(aggregate_id)
        if missing:
            for aggregate_id, history in self._events_after([(i, 0) for i in missing]).items():
                if history:
                    found[aggregate_id] = replay(None, history)
        return found

    def _events_after(self, after: Sequence[tuple[UUID, int]]) -> dict[UUID, list[Any]]:
        """Each aggregate's domain events after the version given for it (0: all), in one query."""
        events: dict[UUID, list[Any]] = {aggregate_id: [] for aggregate_id, _ in after}
        for stored in self.recorder.select_events_after(after):
            domain_event = self.mapper.to_domain_event(stored)  # its id as the aggregate's (UUID)
            events[domain_event.originator_id].append(domain_event)
        return events

    def read_events(self, aggregate_id: UUID, event_classes: Iterable[type]) -> list[Any]:
        """An aggregate's domain events of these classes only, in order, with one query (none if the
        aggregate does not exist): what a decision needs from a long history, without the rest."""
        topics = [topic for event_class in event_classes for topic in stored_topics(event_class)]
        stored = self.recorder.select_events_with_topics(aggregate_id, topics)
        return [self.mapper.to_domain_event(event) for event in stored]

    def forget(self, aggregate_ids: Iterable[UUID]) -> None:
        """Drop cached aggregates that may be stale (after a refused save)."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in aggregate_ids:
            with suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for transcoding in TRANSCODINGS:
            transcoder.register(transcoding())

    def construct_recorder(self) -> PostgresBatchProcessRecorder | POPOBatchProcessRecorder:
        if isinstance(self.factory, PostgresFactory):
            factory = self.factory
            prefix = self.name.lower()
            recorder = PostgresBatchProcessRecorder(
                datastore=factory.datastore,
                events_table_name=f"{prefix}_events",
                tracking_table_name=f"{prefix}_tracking",
            )
            if factory.env_create_table():
                recorder.create_table()
            return recorder
        return POPOBatchProcessRecorder()

    def record(self, *aggregates: Any, trackings: Sequence[Tracking] = ()) -> list[Recording]:
        """Save aggregates' pending events with the upstream positions they answer to, atomically;
        each event saved with its notification (its position in the log).

        A tracking already recorded (same source and position) raises IntegrityError and nothing
        of the batch is saved.
        """
        processing_event: ProcessingEvent = ProcessingEvent()
        # What ProcessingEvent.collect_events does for aggregates, without its two isinstance
        # checks against runtime protocols per aggregate: on Python 3.11 those walk the
        # protocol's members every time, ~10% of a consumer batch's CPU (measured).
        for aggregate in aggregates:
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        processing_event.saved_kwargs["trackings"] = list(trackings)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def record_uncached(self, *aggregates: Any) -> None:
        """Save new aggregates that no command will load again (access records), in one
        transaction, without putting them in the aggregate cache: one per read would push the
        people that commands work on out of it."""
        processing_event: ProcessingEvent = ProcessingEvent()
        for aggregate in aggregates:
            processing_event.events.extend(aggregate.collect_events())
        self._notify(self._record(processing_event))

    def _record(self, processing_event: ProcessingEvent) -> Any:
        """Every save passes here (`save` and `record`): the events go to the recorder with the
        person each is about, which it indexes in the same statement (shared/person_index.py).
        An aggregate added later (access records, disclosures) is indexed with no work of its
        own as long as its events name the person."""
        processing_event.saved_kwargs["person_index"] = index_entries(processing_event.events,
                                                                      processing_event.aggregates)
        return super()._record(processing_event)

    def person_history(self, query: HistoryFilter) -> list[tuple[int, datetime, Any, int, str, bytes]]:
        """One page of a person's events as stored here, decrypted (the state's JSON, see
        shared/person_history.py): (position, time, aggregate id, version, topic, plaintext)."""
        return [(position, occurred_at, stored.originator_id, stored.originator_version, stored.topic,
                 self.plaintext(stored.state))
                for position, occurred_at, stored in self.recorder.select_person_history(query)]

    def plaintext(self, state: bytes) -> bytes:
        """A stored state decrypted (and decompressed), as the mapper does before decoding it."""
        if self.mapper.cipher is not None:
            state = self.mapper.cipher.decrypt(state)
        if self.mapper.compressor is not None:
            state = self.mapper.compressor.decompress(state)
        return state


class KeyedThreadLocks:
    """A lock per key for threads, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Any, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: Any) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (None, 0))
            lock = lock or threading.Lock()
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


def ensure_schema(settings: ServiceSettings) -> None:
    """eventsourcing creates its tables, but the schema must exist first."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(settings.schema_name)))


def ensure_database(database_url: str) -> bool:
    """Create the database named in `database_url` if it is missing. Returns True if created."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True
