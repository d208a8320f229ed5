"""A record of one read of a person's record: who read what, why, and what they were answered.

HIPAA's audit controls (45 CFR 164.312(b)) ask that reads be recorded, not only changes. Each
read is an aggregate of its own (a new id, one event, version 1): two readers of the same person
at the same moment never contend for a version, so recording reads needs no retries and batches
freely (shared/access_recording.py). The event names the person read (`person_id`, as every
event of a person aggregate does: shared/person_aggregate.py), so a person's history lists the
reads of their record with everything else that happened to it.

Plain Python on eventsourcing's domain model; no framework.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from shared.access import Principal
from shared.domain import Provenance


class Outcome(str, Enum):
    """What the reader was answered. A refusal by 404 (outside the reader's reach, said as "not
    found" so existence does not leak) is told apart from a record that truly does not exist:
    the auditor sees the difference, the reader never does."""

    ALLOWED = "allowed"
    REFUSED_403 = "refused_403"
    REFUSED_404 = "refused_404"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Access:
    """One read, as the API saw it. Ids and names only: never what was read."""

    person_id: UUID
    resource: str  # a stable name ("care plan"), not the URL
    route: str  # the route template ("/people/{person_id}/plan"): no ids or query in it
    outcome: Outcome
    status: int  # the HTTP status answered
    purpose: str  # an HL7 v3 PurposeOfUse code (shared/disclosures.py: PURPOSES_OF_USE), TREAT by default
    provenance: Provenance  # the reader (subject, role), correlation id, traceparent
    reader_agency: str | None = None  # the token's agency claim, if any
    reader_app: str | None = None  # the token's app claim (a care-team app), if any
    # What of the resource was read, when one record stands for several things sent (the live
    # stream: one record per person per page, naming each event sent as "<position>:<kind>").
    items: tuple[str, ...] = ()

    @property
    def trace_id(self) -> str | None:
        """The W3C trace id of the request (the traceparent's second field), if it was traced."""
        parts = (self.provenance.traceparent or "").split("-")
        return parts[1] if len(parts) == 4 else None


def per_person(items: Iterable[tuple[UUID, str]]) -> dict[UUID, tuple[str, ...]]:
    """What one page or batch names of each person, in order (`(person, item)` pairs, an item
    such as `"<position>:<kind>"`): a page about many people is recorded as one read per person,
    each naming its items, rather than one per item."""
    found: dict[UUID, list[str]] = {}
    for person_id, item in items:
        found.setdefault(person_id, []).append(item)
    return {person_id: tuple(named) for person_id, named in found.items()}


def page_accesses(reader: Principal, provenance: Provenance, purpose: str, route: str, resource: str,
                  items: Iterable[tuple[UUID, str]]) -> list[Access]:
    """The allowed reads a page or batch about several people makes: one per person, naming its
    items (`per_person`), all by the same reader for the same purpose."""
    return [Access(person_id=person_id, resource=resource, route=route, outcome=Outcome.ALLOWED, status=200,
                   purpose=purpose, provenance=provenance, reader_agency=reader.agency, reader_app=reader.app,
                   items=named)
            for person_id, named in per_person(items).items()]


class AccessRecord(Aggregate):
    """One read of one person's record. Created once, never changed."""

    class Event(Aggregate.Event):
        person_id: UUID

    class Recorded(Event, Aggregate.Created):
        person_id: UUID
        resource: str
        route: str
        outcome: str
        status: int
        purpose: str
        provenance: Provenance
        reader_agency: str | None
        reader_app: str | None
        trace_id: str | None
        items: list[str]
        class_version = 2  # version 2 adds `items`

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["items"] = []  # a read of one whole resource, as every read recorded before was

    @event(Recorded)
    def __init__(self, person_id: UUID, resource: str, route: str, outcome: str, status: int, purpose: str,
                 provenance: Provenance, reader_agency: str | None, reader_app: str | None,
                 trace_id: str | None, items: list[str]) -> None:
        self.person_id = person_id
        self.resource = resource
        self.route = route
        self.outcome = Outcome(outcome)
        self.status = status
        self.purpose = purpose
        self.provenance = provenance
        self.reader_agency = reader_agency
        self.reader_app = reader_app
        self.trace_id = trace_id
        self.items = tuple(items)

    @classmethod
    def of(cls, access: Access) -> AccessRecord:
        # The outcome is stored as its code: a stored record never depends on a Python class name.
        return cls(person_id=access.person_id, resource=access.resource, route=access.route,
                   outcome=access.outcome.value, status=access.status, purpose=access.purpose,
                   provenance=access.provenance, reader_agency=access.reader_agency,
                   reader_app=access.reader_app, trace_id=access.trace_id, items=list(access.items))

    @property
    def reader_id(self) -> str:
        return self.provenance.actor_id

    @property
    def reader_role(self) -> str:
        return self.provenance.actor_role

    @property
    def correlation_id(self) -> str:
        return self.provenance.correlation_id

    @property
    def recorded_at(self) -> datetime:
        return self.created_on
