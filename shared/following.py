"""Applying other services' events to the per-person followers (shared/followers.py), in order and
exactly once: the record of having applied one (tracking) commits with its effect.

No broker, no pydantic here: consumers (shared/consuming.py) hand in each event's change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, Tracking

from shared.domain import AlreadyApplied, OutOfSequence, UpstreamRef
from shared.eventstore import ServiceApplication
from shared.group_commit import outcomes_until_a_failure
from shared.topics import recorded_as
# As a module, not its names: `shared.following:TeamFollower...` must resolve only through the topics
# registered in shared/followers.py, where stored events of the followers find their classes.
from shared import followers as per_person


class Unprocessable(Exception):
    """The message can never be handled as it is (bad schema, unknown version): dead-letter it."""


class ConflictingEvent(Unprocessable):
    """Another event than the one applied claims its place in a person's sequence."""


FollowerT = TypeVar("FollowerT", bound=per_person.PersonFollower)


@dataclass(frozen=True)
class UpstreamChange:
    """One upstream event and what applying it does to the person's follower aggregate."""

    upstream: UpstreamRef
    change: Callable[[Any], Any]
    # Other aggregates the change records on, saved in the same transaction as the follower and
    # the tracking (careplan's merge of two care teams): given the changed follower, it returns
    # them changed. They are loaded afresh for each attempt, so a refused save leaves no trace.
    alongside: Callable[[Any], Sequence[Any]] | None = None


# Per item of a batch: True applied, False already applied (a duplicate), or why it was not.
Outcome = bool | Exception


class FollowerApplication(ServiceApplication, Generic[FollowerT]):
    """Applies upstream events to per-person aggregates, in order and exactly once."""

    follower_class: type[FollowerT]

    def apply_change(self, change: UpstreamChange) -> bool:
        """Apply `change` if its upstream event is the person's next. False means already applied.

        Raises OutOfSequence (retry later) when an earlier event has not arrived yet.
        """
        outcome = self.apply_upstream_batch([change])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def apply_upstream_batch(self, items: Sequence[UpstreamChange]) -> list[Outcome]:
        """Apply many upstream events and their trackings in one transaction (group commit).

        If the transaction is refused (another consumer got there first, or wrote the same
        person), each item is tried again alone, so one item's conflict never fails the others.
        An item whose change raises fails alone, with nothing of it recorded (see
        `outcomes_until_a_failure`): that person's later items then wait for it (OutOfSequence).
        """
        people = [UUID(item.upstream.person_id) for item in items]
        failed: dict[int, Exception] = {}
        outcomes: list[Outcome] | None = None
        alongside: list[Any] = []
        while outcomes is None:  # each pass fails one more item, or ends
            followers = self._check_out_followers(people)
            alongside = []
            outcomes = outcomes_until_a_failure(
                list(zip(people, items, strict=True)),
                lambda pair: self._apply(followers[pair[0]], pair[1], alongside), failed, lambda _, error: error)
        trackings = [Tracking(item.upstream.source, item.upstream.position)
                     for item, outcome in zip(items, outcomes, strict=True) if outcome is True]
        if not trackings:
            # Nothing to save (duplicates, early arrivals, failures): the checked-out followers
            # are dropped rather than put back; the next event for these people reloads them.
            return outcomes
        try:
            self.record(*followers.values(), *alongside, trackings=trackings)
        except IntegrityError:
            # A duplicate tracking, or another writer saved one of these followers, in which
            # case our cached copy is stale: reload them from the store. (Checked out, they are
            # not in the cache now; forgetting also drops any copy loaded there meanwhile.)
            self.forget([*(follower.id for follower in followers.values()), *(other.id for other in alongside)])
            if len(items) == 1:
                return [self._settle_conflict(items[0])]
            return [failed[index] if index in failed else self.apply_upstream_batch([item])[0]
                    for index, item in enumerate(items)]
        return outcomes

    @staticmethod
    def unprocessable(upstream: UpstreamRef, reason: str) -> UpstreamChange:
        return UpstreamChange(upstream, lambda follower: follower.record_unprocessable(upstream, reason))

    def record_unprocessable(self, upstream: UpstreamRef, reason: str) -> bool:
        return self.apply_change(self.unprocessable(upstream, reason))

    def follower(self, person_id: UUID) -> FollowerT | None:
        """The person's follower as stored now (for queries)."""
        try:
            return self.read(self.follower_class.create_id(person_id=person_id))
        except AggregateNotFoundError:
            return None

    def follower_events(self, person_id: UUID, *event_names: str) -> list[Any]:
        """The person's follower's events of these names only, in order (none if it does not exist).

        For access decisions: they need a few facts (the team, consent directives) from a history
        that grows with every upstream event, and a refusal must cost the same whether or not the
        person exists, so it must not load the record it refuses."""
        event_classes = [recorded for name in event_names
                         for recorded in recorded_as(self.follower_class, getattr(self.follower_class, name))]
        return self.read_events(self.follower_class.create_id(person_id=person_id), event_classes)

    def followed_team(self, person_id: UUID) -> dict[str, str]:
        """The person's care team as this service last heard of it (for a TeamFollower), read from
        the membership events alone."""
        follower_class: Any = self.follower_class
        return per_person.TeamFollower.team_from(self.follower_events(person_id, *follower_class.TEAM_EVENTS))

    def follows(self, person_id: UUID) -> bool:
        """Whether any upstream event about this person has reached this service (one event read,
        not the person's history)."""
        follower_id = self.follower_class.create_id(person_id=person_id)
        return any(True for _ in self.events.get(follower_id, limit=1))

    def _check_out_followers(self, people: Sequence[UUID]) -> dict[UUID, FollowerT]:
        """Each person's follower to change (see `check_out_many`), a new one where none exists."""
        ids = {person_id: self.follower_class.create_id(person_id=person_id) for person_id in people}
        stored = self.check_out_many(ids.values())
        followers = {}
        for person_id, follower_id in ids.items():
            found = stored.get(follower_id)
            followers[person_id] = found if found is not None else self.follower_class(person_id=person_id)
        return followers

    def _apply(self, follower: FollowerT, item: UpstreamChange, alongside: list[Any]) -> Outcome:
        try:
            follower.check_next(item.upstream)
        except AlreadyApplied:
            return _already_applied(follower, item.upstream)
        except OutOfSequence as error:
            return error
        item.change(follower)
        if item.alongside is not None:
            alongside.extend(item.alongside(follower))
        return True

    def _settle_conflict(self, item: UpstreamChange) -> Outcome:
        """After a refused save: a duplicate if the person's follower now has it, else retry later."""
        follower = self.follower(UUID(item.upstream.person_id))
        applied = follower.upstream_applied.get(item.upstream.stream, 0) if follower else 0
        if follower is not None and applied >= item.upstream.sequence:
            return _already_applied(follower, item.upstream)
        return ConcurrentChange(f"{item.upstream.key} conflicted with a concurrent write; retry")


def _already_applied(follower: per_person.PersonFollower, upstream: UpstreamRef) -> Outcome:
    """A redelivery of what was applied at this sequence is a duplicate (False); a redelivered
    unprocessable event is dead-lettered again; any other event there is refused, never acked
    as a duplicate and never in place of the one applied."""
    applied_id = follower.applied_event_id(upstream.stream, upstream.sequence)
    if applied_id is not None and applied_id != upstream.event_id:
        return ConflictingEvent(
            f"{upstream.key} is event {upstream.event_id} here, but event {applied_id} was applied at that "
            "sequence: a forgery or a republish with a changed id; the applied event stands")
    if upstream.key in follower.unprocessable:
        return Unprocessable(follower.unprocessable[upstream.key])
    return False


class ConcurrentChange(Exception):
    """Another writer changed the person's follower at the same time: retry the message."""
