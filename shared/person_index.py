"""Which person each stored event is about: the per-person index every service's store keeps
beside its events (`<schema>.person_events`), written in the same statement as the events.

The history of a person (`GET /audit/people/{id}/history`, `carecoord audit history`) reads this
index, never the whole log: event state is encrypted, so without it finding a person's events
would mean decrypting everything. An event is indexed under the person it names, found without
any work from the aggregates that record it (see `person_of`). The index also keeps the event's
time, so that a time range is filtered in SQL (positions and topics are plain in the log already;
the time is no more telling than they are).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql

PERSON_EVENTS = "person_events"
BACKFILL = "person_events_backfill"


def person_of(domain_event: Any, aggregate: Any = None) -> UUID | None:
    """The person an event is about, or None.

    In order: the event's own `person_id` (every PersonAggregate event, and any event that names
    a person, such as a subscription's `NoticeMatched`); the person of the upstream event it
    applies (`upstream: UpstreamRef`, every follower event); the person its aggregate was
    created for (`aggregate.person_id`: a webhook lane's attempts name no person, its opening
    does). Anything else (a subscription's settings) is about no one person."""
    person = getattr(domain_event, "person_id", None)
    if person is None:
        upstream = getattr(domain_event, "upstream", None)
        person = getattr(upstream, "person_id", None)
    if person is None and aggregate is not None:
        person = getattr(aggregate, "person_id", None)
    return as_uuid(person)


def as_uuid(value: Any) -> UUID | None:
    if value is None or isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return None  # a person named by something other than our ids: not indexed


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One event's row in the index (position aside: known only once the event is inserted)."""

    person_id: UUID | None
    occurred_at: datetime


def index_entries(domain_events: Sequence[Any], aggregates: Mapping[UUID, Any]) -> list[IndexEntry]:
    """The index entries of a batch's events, in the events' order (one per event)."""
    return [IndexEntry(person_of(event, aggregates.get(event.originator_id)), event.timestamp)
            for event in domain_events]


def index_ddl(schema: str, events_table: str) -> list[sql.Composed]:
    """The index and its backfill marker. The marker is written once, when the index is created:
    events at or below `indexed_from` were stored before the index existed and are indexed by
    `carecoord audit index-history` (the table is then marked done); later ones are indexed as
    they are stored. The events table is locked (SHARE: writers wait a moment) so that no event
    commits between reading its last position and the new recording function taking over."""
    names = {"schema": sql.Identifier(schema), "index": sql.Identifier(schema, PERSON_EVENTS),
             "backfill": sql.Identifier(schema, BACKFILL), "events": sql.Identifier(schema, events_table),
             "by_time": sql.Identifier(f"{PERSON_EVENTS}_by_time")}
    statements = [
        "CREATE TABLE IF NOT EXISTS {backfill} (indexed_from bigint NOT NULL, "
        "backfilled_to bigint NOT NULL DEFAULT 0, done_at timestamptz)",
        "LOCK TABLE {events} IN SHARE MODE",
        "INSERT INTO {backfill} (indexed_from) SELECT coalesce(max(notification_id), 0) FROM {events} "
        "WHERE NOT EXISTS (SELECT FROM {backfill})",
        "CREATE TABLE IF NOT EXISTS {index} (person_id uuid NOT NULL, position bigint NOT NULL, "
        "occurred_at timestamptz NOT NULL, PRIMARY KEY (person_id, position))",
    ]
    return [sql.SQL(statement).format(**names) for statement in statements]


@dataclass(frozen=True)
class HistoryFilter:
    """What part of a person's history to read: after a position, in a time range, of some types.

    A type is an event class as its topic names it after the module (`Person.ScreeningCompleted`)
    or its last part alone (`ScreeningCompleted`)."""

    person_id: UUID
    after: int = 0
    since: datetime | None = None
    until: datetime | None = None
    types: tuple[str, ...] = ()
    limit: int = 1000


def history_statement(schema: str, events_table: str, ids_as_text: bool = False) -> str:
    """One page of a person's events by position: (position, occurred_at, id, version, topic, state).
    With `ids_as_text`, the aggregate's id comes as its string (what a line shows), which
    PostgreSQL writes for less than psycopg takes to make a UUID object and Python its string."""
    return sql.SQL(
        "SELECT p.position, p.occurred_at, e.originator_id" + ("::text" if ids_as_text else "") +
        ", e.originator_version, e.topic, e.state "
        "FROM {index} AS p JOIN {events} AS e ON e.notification_id = p.position "
        "WHERE p.person_id = %(person)s AND p.position > %(after)s "
        "AND (%(since)s::timestamptz IS NULL OR p.occurred_at >= %(since)s::timestamptz) "
        "AND (%(until)s::timestamptz IS NULL OR p.occurred_at < %(until)s::timestamptz) "
        "AND (%(types)s::text[] IS NULL OR split_part(e.topic, ':', 2) = ANY(%(types)s::text[]) "
        "     OR regexp_replace(e.topic, '^.*[.:]', '') = ANY(%(types)s::text[])) "
        "ORDER BY p.position LIMIT %(limit)s"
    ).format(index=sql.Identifier(schema, PERSON_EVENTS), events=sql.Identifier(schema, events_table)).as_string()


def history_parameters(query: HistoryFilter) -> dict[str, Any]:
    return {"person": query.person_id, "after": query.after, "since": query.since, "until": query.until,
            "types": list(query.types) or None, "limit": query.limit}


def event_type(topic: str) -> str:
    """`services.intake.domain.person:Person.ScreeningCompleted` -> `Person.ScreeningCompleted`."""
    return topic.partition(":")[2] or topic


def type_matches(topic: str, types: Iterable[str]) -> bool:
    """The same test as the SQL above, for the in-memory store."""
    wanted = set(types)
    name = event_type(topic)
    return not wanted or name in wanted or name.rsplit(".", 1)[-1] in wanted
