"""Plain-Python building blocks every domain uses. Imports only the standard library.

Provenance travels on every domain event so an auditor can say who did what, why, and as part of
which flow. UpstreamSequence lets an aggregate that is built from another service's events refuse
duplicates and gaps, which is what keeps each person's history in order despite redeliveries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Provenance:
    """Who caused a domain event, and the flow it belongs to."""

    actor_id: str
    actor_role: str
    correlation_id: str
    causation_id: str | None = None
    # W3C traceparent of the request that caused the event: the relay publishes long after the
    # request has ended, so the trace context must be stored with the event to continue the trace.
    traceparent: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Provenance:
        return cls(**data)


class AlreadyApplied(Exception):
    """The upstream event was applied before: a redelivery, to be acknowledged and ignored."""


class OutOfSequence(Exception):
    """An earlier upstream event for the same person has not been applied yet."""


def check_next_in_sequence(applied: dict[str, int], source: str, sequence: int) -> None:
    """Accept exactly the next event of a person's stream from `source`.

    `applied` maps each upstream source to the last sequence number applied for this person.
    """
    last = applied.get(source, 0)
    if sequence <= last:
        raise AlreadyApplied(f"{source} event {sequence} was already applied (last {last})")
    if sequence != last + 1:
        raise OutOfSequence(f"{source} event {sequence} arrived before {last + 1}")


@dataclass(frozen=True)
class UpstreamRef:
    """Which published event caused a change: enough to dedupe, order and audit it."""

    source: str
    position: int
    event_id: str
    event_type: str
    person_id: str
    sequence: int
    correlation_id: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UpstreamRef:
        return cls(**data)

    @property
    def key(self) -> str:
        return f"{self.source}/{self.sequence}"
