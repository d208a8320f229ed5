"""Aggregates and applications built from other services' events about one person.

Plain Python on top of eventsourcing: no broker, no pydantic. The ordering rule lives here:
a person's events from one source are applied strictly by sequence, each exactly once, and the
record of having applied one (tracking) commits with its effect.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, Tracking

from shared.domain import AlreadyApplied, UpstreamRef, check_next_in_sequence
from shared.eventstore import ServiceApplication


class Unprocessable(Exception):
    """The message can never be handled as it is (bad schema, unknown version): dead-letter it."""


class PersonFollower(Aggregate):
    """Base for an aggregate, one per person, that follows upstream services' events."""

    @staticmethod
    def create_id(person_id: UUID, **_: object) -> UUID:
        return person_id

    def __init__(self, person_id: UUID) -> None:
        self.upstream_applied: dict[str, int] = {}
        self.unprocessable: dict[str, str] = {}

    def check_next(self, upstream: UpstreamRef) -> None:
        check_next_in_sequence(self.upstream_applied, upstream.source, upstream.sequence)

    def _advance(self, upstream: UpstreamRef) -> None:
        self.upstream_applied[upstream.source] = upstream.sequence

    @event("UpstreamEventUnprocessable")
    def record_unprocessable(self, upstream: UpstreamRef, reason: str) -> None:
        # The event sits in the dead-letter queue; advancing past it keeps the person's later
        # events flowing, and this record keeps the gap visible in the history.
        self._advance(upstream)
        self.unprocessable[upstream.key] = reason


FollowerT = TypeVar("FollowerT", bound=PersonFollower)


class FollowerApplication(ServiceApplication, Generic[FollowerT]):
    """Applies upstream events to per-person aggregates, in order and exactly once."""

    follower_class: type[PersonFollower]

    def apply_upstream(self, upstream: UpstreamRef, change: Callable[[FollowerT], Any]) -> bool:
        """Apply `change` if `upstream` is the person's next event. False means already applied.

        Raises OutOfSequence (retry later) when an earlier event has not arrived yet.
        """
        follower = self._get_or_start(UUID(upstream.person_id))
        try:
            follower.check_next(upstream)
        except AlreadyApplied:
            if upstream.key in follower.unprocessable:
                raise Unprocessable(follower.unprocessable[upstream.key]) from None
            return False
        change(follower)
        try:
            self.record(follower, tracking=Tracking(upstream.source, upstream.position))
        except IntegrityError:
            return False  # another consumer applied it first; its effect stands alone
        return True

    def record_unprocessable(self, upstream: UpstreamRef, reason: str) -> bool:
        return self.apply_upstream(upstream, lambda f: f.record_unprocessable(upstream, reason))

    def follower(self, person_id: UUID) -> FollowerT | None:
        try:
            return self.repository.get(person_id)
        except AggregateNotFoundError:
            return None

    def _get_or_start(self, person_id: UUID) -> FollowerT:
        found = self.follower(person_id)
        return found if found is not None else self.follower_class(person_id=person_id)  # type: ignore[return-value]
