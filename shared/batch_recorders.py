"""The recorders every service's application uses: one statement records a batch's events and all
its trackings (PostgreSQL), and an in-memory twin with the same tracking rules (unit tests).

The events and the NOTIFY that wakes the log's tailers commit together; see docs/architecture.md
("One statement per batch")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, StoredEvent, Tracking
from eventsourcing.popo import POPOProcessRecorder
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.utils import retry

from shared.person_index import (PERSON_EVENTS, HistoryFilter, IndexEntry, history_parameters, history_statement,
                                 index_ddl, type_matches)

# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more.
NOTIFY_PAYLOAD_LIMIT = 7000


def notify_payload(stored_events: Sequence[StoredEvent]) -> str:
    """The topics a transaction recorded, one per line, for the NOTIFY that wakes the log's
    followers: a follower not interested in any of them stays asleep (careplan's relay publishes
    none of the timeline's events, and was woken, to read nothing, by every one of its commits).
    Empty (wake everyone) when the topics would not fit."""
    payload = "\n".join(sorted({event.topic for event in stored_events}))
    return payload if len(payload.encode()) <= NOTIFY_PAYLOAD_LIMIT else ""


# One event's row in a person's history: position, time, the event as stored.
HistoryRow = tuple[int, datetime, StoredEvent]


def _index_of(stored_events: Sequence[StoredEvent], kwargs: dict[str, Any]) -> list[IndexEntry | None]:
    """The batch's index entries (`person_index=` from ServiceApplication._record), one per event;
    none for events recorded otherwise (eventsourcing's own callers: indexed by the backfill)."""
    entries = kwargs.get("person_index")
    return list(entries) if entries is not None else [None] * len(stored_events)


class PostgresBatchProcessRecorder(PostgresProcessRecorder):
    """Records a batch's events and every one of its trackings (`trackings=`) with one statement,
    and indexes each event under the person it is about (shared/person_index.py).

    The statement calls a function in the schema (see `record_function`) in autocommit: before, a
    batch was six statements in a psycopg pipeline, which cost a sixth of intake's Python time.
    Events and trackings go as arrays of plain types in binary: eventsourcing's array of a
    composite type is turned into text in Python (~47 us per event against ~9 us).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.datastore.single_row_tracking:
            # A "highest position seen" row would refuse a redelivered earlier message as applied
            # and accept nothing out of order; broker deliveries arrive out of order (retries).
            raise ValueError("carecoord records one tracking row per (source, position): set SINGLE_ROW_TRACKING=n")
        schema = sql.Identifier(self.datastore.schema)
        # v2 also writes the person index (v1, left in older databases, did not).
        self._record_function = sql.Identifier(f"record_{self.events_table_name}_v2")
        # Statements rendered once: psycopg renders a Composed statement again at every execute,
        # while a string's conversion is cached (7% of a consumer's Python time went to converting).
        self._record_statement = sql.SQL(
            "SELECT * FROM {0}.{1}(%b::{2}[], %b::bigint[], %b::text[], %b::bytea[], %b::text[], %b::bigint[], %s, %s, "
            "%b::uuid[], %b::timestamptz[]) "
            "AS recorded(notification_id)"
        ).format(schema, self._record_function, sql.SQL(self.datastore.originator_id_type)).as_string()
        self._events_after_statement = sql.SQL(
            "SELECT e.* FROM unnest(%s::{id_type}[], %s::bigint[]) AS after(originator_id, originator_version) "
            "CROSS JOIN LATERAL (SELECT * FROM {schema}.{table} AS e WHERE e.originator_id = after.originator_id "
            "AND e.originator_version > after.originator_version ORDER BY e.originator_version) AS e "
            "ORDER BY e.originator_id, e.originator_version"
        ).format(id_type=sql.SQL(self.datastore.originator_id_type), schema=schema,
                 table=sql.Identifier(self.events_table_name)).as_string()
        self._events_with_topics_statement = sql.SQL(
            "SELECT * FROM {schema}.{table} WHERE originator_id = %s AND topic = ANY(%s) ORDER BY originator_version"
        ).format(schema=schema, table=sql.Identifier(self.events_table_name)).as_string()
        self._history_statement = history_statement(self.datastore.schema, self.events_table_name)

    def record_function(self) -> sql.Composed:
        """CREATE the function that records a batch: its trackings (a duplicate violates the
        primary key, and nothing is recorded), then, under the table lock that makes ids commit
        in order, its events, the NOTIFY with their topics, their rows in the person index (an
        event about no one has a null person and no row), and their ids in insertion order."""
        schema = sql.Identifier(self.datastore.schema)
        return sql.SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}(ids {id_type}[], versions bigint[], topics text[], "
            "states bytea[], tracking_names text[], tracking_positions bigint[], channel text, payload text, "
            "person_ids uuid[], occurred timestamptz[]) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $body$ "
            "BEGIN "
            "  INSERT INTO {schema}.{tracking} (application_name, notification_id) "
            "    SELECT * FROM unnest(tracking_names, tracking_positions); "
            "  IF cardinality(ids) > 0 THEN "
            "    SET LOCAL lock_timeout = '{lock_timeout}s'; "
            "    LOCK TABLE {schema}.{events} IN EXCLUSIVE MODE; "
            "    PERFORM pg_notify(channel, payload); "
            "    RETURN QUERY WITH inserted AS ("
            "      INSERT INTO {schema}.{events} (originator_id, originator_version, topic, state) "
            "      SELECT * FROM unnest(ids, versions, topics, states) "
            "      RETURNING notification_id, originator_id, originator_version), "
            "    indexed AS (INSERT INTO {index} (person_id, position, occurred_at) "
            "      SELECT about.person_id, inserted.notification_id, about.occurred_at FROM inserted "
            "      JOIN unnest(ids, versions, person_ids, occurred) "
            "        AS about(originator_id, originator_version, person_id, occurred_at) "
            "        USING (originator_id, originator_version) WHERE about.person_id IS NOT NULL) "
            "    SELECT inserted.notification_id FROM inserted ORDER BY inserted.notification_id; "
            "  END IF; "
            "END $body$"
        ).format(schema=schema, function=self._record_function, id_type=sql.SQL(self.datastore.originator_id_type),
                 tracking=sql.Identifier(self.tracking_table_name), events=sql.Identifier(self.events_table_name),
                 lock_timeout=sql.Literal(self.datastore.lock_timeout),
                 index=sql.Identifier(self.datastore.schema, PERSON_EVENTS))

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=True) as curs:
            # Replicas starting together would otherwise race on CREATE OR REPLACE.
            curs.execute(sql.SQL("SELECT pg_advisory_xact_lock(hashtext({0}))").format(
                sql.Literal(f"{self.datastore.schema}.{self.events_table_name}.record")))
            for statement in index_ddl(self.datastore.schema, self.events_table_name):
                curs.execute(statement)
            curs.execute(self.record_function())

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events_after(self, after: Sequence[tuple[UUID, int]]) -> Sequence[StoredEvent]:
        """The events of each aggregate after the version given for it (0: all), in one query.

        A lateral subquery, not a join: the statement is prepared, and a generic plan for a join
        with an array of unknown length may hash the whole events table (seen on a young table
        whose statistics were stale: a sequential scan per command, growing with the history).
        The lateral form can only look each aggregate up in the primary key."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._events_after_statement,
                         ([aggregate_id for aggregate_id, _ in after], [version for _, version in after]),
                         prepare=True)
            return [StoredEvent(originator_id=row["originator_id"], originator_version=row["originator_version"],
                                topic=row["topic"], state=bytes(row["state"])) for row in curs.fetchall()]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events_with_topics(self, originator_id: UUID, topics: Sequence[str]) -> Sequence[StoredEvent]:
        """An aggregate's events of these topics only, in order: the few events an access decision
        needs (a team's members, consent directives), without reading or decoding the rest."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._events_with_topics_statement, (originator_id, list(topics)), prepare=True)
            return [StoredEvent(originator_id=row["originator_id"], originator_version=row["originator_version"],
                                topic=row["topic"], state=bytes(row["state"])) for row in curs.fetchall()]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        # `trackings` from ServiceApplication.record; `tracking` as eventsourcing's own callers pass it.
        trackings = [*kwargs.get("trackings", ()), *filter(None, [kwargs.get("tracking")])]
        index = _index_of(stored_events, kwargs)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            self._check_has_multi_row_tracking_table(curs)
            curs.execute(self._record_statement, (
                [event.originator_id for event in stored_events], [event.originator_version for event in stored_events],
                [event.topic for event in stored_events], [event.state for event in stored_events],
                [t.application_name for t in trackings], [t.notification_id for t in trackings],
                self.channel_name, notify_payload(stored_events),
                [entry.person_id if entry else None for entry in index],
                [entry.occurred_at if entry else None for entry in index],
            ), prepare=True)
            ids = [row["notification_id"] for row in curs.fetchall()]
        return ids if stored_events else None

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_person_history(self, query: HistoryFilter) -> list[HistoryRow]:
        """One page of a person's events, by position (shared/person_index.py)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._history_statement, history_parameters(query), prepare=True)
            return [(row["position"], row["occurred_at"],
                     StoredEvent(originator_id=row["originator_id"], originator_version=row["originator_version"],
                                 topic=row["topic"], state=bytes(row["state"]))) for row in curs.fetchall()]


class POPOBatchProcessRecorder(POPOProcessRecorder):
    """The in-memory twin of PostgresBatchProcessRecorder, for unit tests.

    Like the PostgreSQL tracking table (one row per source and position), it keeps every tracked
    position, not eventsourcing's in-memory "highest position seen": a position below the highest
    is accepted, one already tracked (or twice in one batch) is refused and nothing is recorded."""

    def __init__(self) -> None:
        super().__init__()
        self._tracked: dict[str, set[int]] = defaultdict(set)
        self._person_index: dict[UUID, list[tuple[int, datetime]]] = defaultdict(list)

    def select_events_after(self, after: Sequence[tuple[UUID, int]]) -> Sequence[StoredEvent]:
        return [event for aggregate_id, version in after for event in self.select_events(aggregate_id, gt=version)]

    def select_events_with_topics(self, originator_id: UUID, topics: Sequence[str]) -> Sequence[StoredEvent]:
        return [event for event in self.select_events(originator_id) if event.topic in topics]

    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        trackings = [*kwargs.get("trackings", ()), *filter(None, [kwargs.get("tracking")])]
        positions = [(tracking.application_name, tracking.notification_id) for tracking in trackings]
        if len(set(positions)) < len(positions):
            raise IntegrityError(f"a tracking position is given twice in one batch: {positions}")
        for tracking in kwargs.get("trackings", ()):
            self._assert_tracking_uniqueness(tracking)

    def _assert_tracking_uniqueness(self, tracking: Tracking) -> None:
        if tracking.notification_id in self._tracked[tracking.application_name]:
            raise IntegrityError(f"{tracking.application_name} position {tracking.notification_id} is already tracked")

    def _insert_tracking(self, tracking: Tracking) -> None:
        self._tracked[tracking.application_name].add(tracking.notification_id)

    def _update_table(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        notification_ids = super()._update_table(stored_events, **kwargs)
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(tracking)
        for position, entry in zip(notification_ids or (), _index_of(stored_events, kwargs)):
            if entry is not None and entry.person_id is not None:
                self._person_index[entry.person_id].append((position, entry.occurred_at))
        return notification_ids

    def select_person_history(self, query: HistoryFilter) -> list[HistoryRow]:
        with self._database_lock:
            rows = []
            for position, occurred_at in self._person_index.get(query.person_id, ()):
                stored = self._stored_events[position - 1]
                if (position > query.after and (query.since is None or occurred_at >= query.since)
                        and (query.until is None or occurred_at < query.until)
                        and type_matches(stored.topic, query.types)):
                    rows.append((position, occurred_at, stored))
                    if len(rows) == query.limit:
                        break
            return rows

    def max_tracking_id(self, application_name: str) -> int | None:
        with self._database_lock:
            return max(self._tracked[application_name], default=None)
