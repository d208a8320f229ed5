"""Histories as an older version of a service stored them: events its domain would refuse now, or
in a shape it no longer writes. Built from the event classes and the stored records themselves,
not by calling an aggregate's private methods.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

STORED_AT = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)


def later_events(aggregate: Aggregate, *events: tuple[str, dict[str, Any]]) -> list[Any]:
    """`aggregate`'s next events, by name and attributes, as its event classes construct them
    (no rule of the aggregate's commands runs); not yet applied."""
    made = []
    for version, (name, attributes) in enumerate(events, start=aggregate.version + 1):
        event_class = getattr(type(aggregate), name)
        made.append(event_class(originator_id=aggregate.id, originator_version=version, timestamp=STORED_AT,
                                **attributes))
    return made


def replayed(aggregate: Aggregate, events: Iterable[Any]) -> Aggregate:
    """`aggregate` with `events` applied, as replaying a stored history does."""
    for domain_event in events:
        domain_event.mutate(aggregate)
    return aggregate


def store_as_recorded(application: Application, originator_id: UUID, topic_and_state: list[tuple[str, dict[str, Any]]],
                      first_version: int = 1) -> None:
    """Record events exactly as given: topic and the state's attributes, encoded by the
    application's own transcoder (and cipher), as an older version of the code wrote them."""
    mapper = application.mapper
    stored = []
    for version, (topic, state) in enumerate(topic_and_state, start=first_version):
        encoded = mapper.transcoder.encode({"timestamp": STORED_AT, **state})
        if mapper.compressor:
            encoded = mapper.compressor.compress(encoded)
        if mapper.cipher:
            encoded = mapper.cipher.encrypt(encoded)
        stored.append(StoredEvent(originator_id=originator_id, originator_version=version, topic=topic, state=encoded))
    application.recorder.insert_events(stored)


