"""`carecoord audit index-history`: the person index for events stored before it existed.

When a service first starts with the index, it notes the last position then stored
(`<schema>.person_events_backfill.indexed_from`); everything after is indexed as it is stored.
This one-off pass reads the events at or below that position once, in pages, decrypts each, finds
its person as the recorder does (shared/person_index.py: person_of; the person of an aggregate
whose later events name no one, a webhook lane's, from its first event), and adds the rows.
Each page commits with its progress (`backfilled_to`), so an interrupted pass goes on where it
stopped; rows already there are left alone, so running it twice is harmless. The services keep
running meanwhile. Memory: one page, plus the person of each aggregate created in the range
(ids only) for the events that name no one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, StoredEvent, UUIDAsHex
from eventsourcing.utils import Environment
from shared.cipher import RotatingAESCipher
from shared.person_index import BACKFILL, PERSON_EVENTS, person_of
from shared.settings import ServiceSettings
from shared.transcodings import TRANSCODINGS

# Decoded into domain events (their upcasters name the person on intake's oldest events): importing
# the applications registers every domain class and every former topic stored events may carry.
import services.careplan.application  # noqa: E402,F401  isort: skip
import services.intake.application  # noqa: E402,F401  isort: skip
import services.notifications.application  # noqa: E402,F401  isort: skip

PAGE = 2000


def service_mapper(settings: ServiceSettings) -> Mapper:
    """How the service's application decrypts and decodes its events (shared/eventstore.py)."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), *(t() for t in TRANSCODINGS)):
        transcoder.register(transcoding)
    env = Environment(settings.service_name, settings.eventsourcing_env())
    return Mapper(transcoder=transcoder, cipher=RotatingAESCipher(env))


class NoIndex(Exception):
    """The service has not started with the person index yet (it creates it)."""


def backfill_index(settings: ServiceSettings, progress: Callable[[int, int], None] = lambda done, total: None,
                   page: int = PAGE) -> int:
    """Index the events stored before the index; the number of rows added."""
    schema, service = settings.schema_name, settings.service_name
    names = {"events": sql.Identifier(schema, f"{service}_events"), "index": sql.Identifier(schema, PERSON_EVENTS),
             "backfill": sql.Identifier(schema, BACKFILL)}
    mapper = service_mapper(settings)
    creators: dict[UUID, UUID] = {}
    added = 0
    with psycopg.connect(settings.database_url) as conn:
        if conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."{BACKFILL}"',)).fetchone()[0] is None:  # type: ignore[index]
            raise NoIndex(f"{service} has no person index yet: start it once with this version")
        row = conn.execute(sql.SQL("SELECT indexed_from, backfilled_to, done_at FROM {backfill}").format(**names)
                           ).fetchone()
        assert row is not None
        indexed_from, done_to, done_at = row
        # Aggregates created before where this pass resumes still name their person.
        start = 0 if done_at is None else indexed_from
        after = start
        while after < indexed_from:
            with conn.transaction():
                rows = conn.execute(sql.SQL(
                    "SELECT notification_id, originator_id, originator_version, topic, state FROM {events} "
                    "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s"
                ).format(**names), (after, indexed_from, page)).fetchall()
                if not rows:
                    break
                people, positions, times = [], [], []
                for position, originator_id, version, topic, state in rows:
                    event: Any = mapper.to_domain_event(StoredEvent(originator_id, version, topic, bytes(state)))
                    person = person_of(event) or creators.get(originator_id)
                    if person is not None and version == 1:
                        creators[originator_id] = person
                    if person is not None and position > done_to:
                        people.append(person)
                        positions.append(position)
                        times.append(event.timestamp)
                added += conn.execute(sql.SQL(
                    "INSERT INTO {index} (person_id, position, occurred_at) "
                    "SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::timestamptz[]) ON CONFLICT DO NOTHING"
                ).format(**names), (people, positions, times)).rowcount
                after = rows[-1][0]
                conn.execute(sql.SQL("UPDATE {backfill} SET backfilled_to = greatest(backfilled_to, %s)")
                             .format(**names), (after,))
            progress(after, indexed_from)
        conn.execute(sql.SQL("UPDATE {backfill} SET backfilled_to = indexed_from, done_at = coalesce(done_at, now())")
                     .format(**names))
        conn.commit()
    return added
