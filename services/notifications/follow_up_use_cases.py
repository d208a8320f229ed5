"""Crisis follow-up use cases of the notifications application: taking the steps that are due
(the timer calls this), acknowledging, and reading follow-ups. Synchronous, like all eventsourcing
code.

Follow-ups live on the person's notifications aggregate, which the consumer also writes: a write
here takes the aggregate out of the cache, changes it and saves it; if the consumer (or another
replica) saved it meanwhile, the save is refused on the version and the change is made again on
what is stored. A step is decided from the stored state each time, so repeating it takes nothing
twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from services.notifications.domain.follow_ups import CrisisFollowUp, EscalationPolicy, NotAFollowUp, Step
from services.notifications.domain.routing import Audience
from shared.access import RecordContext
from shared.eventstore import KeyedThreadLocks

T = TypeVar("T")
ATTEMPTS = 8


class FollowUpKeptChanging(Exception):
    """Other writers kept changing the person's notifications: nothing was saved; retry."""


class CrisisFollowUpUseCases:
    """Mixed into NotificationsApplication (a FollowerApplication of PersonNotifications)."""

    def __init__(self, *args: Any, escalation_policy: EscalationPolicy = EscalationPolicy(),
                 agency_supervisors: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.escalation_policy = escalation_policy
        self.agency_supervisors = frozenset(agency_supervisors)  # supervise every team, on it or not
        self._follow_up_writes = KeyedThreadLocks()

    def take_due_follow_up_steps(self, person_id: UUID, now: datetime) -> list[tuple[str, Step]]:
        """Every step due by `now` for the person's follow-ups, each recorded with its notification."""
        return self._change_person(person_id, lambda person: person.take_due_follow_up_steps(
            now, self.escalation_policy), missing=[])

    def acknowledge_crisis_follow_up(self, person_id: UUID, contact_id: str, by: str, role: str,
                                     at: datetime) -> bool:
        """True when this is the first acknowledgement (it stops the escalation); raises NotAFollowUp
        or AlreadyFollowedUp."""
        def acknowledge(person: Any) -> bool:
            return person.acknowledge_crisis_follow_up(contact_id, by, role, at)

        return self._change_person(person_id, acknowledge, missing=NotAFollowUp(contact_id))

    def crisis_follow_ups(self, person_id: UUID) -> list[CrisisFollowUp] | None:
        found = self.follower(person_id)  # type: ignore[attr-defined]
        return None if found is None else [_copy(f) for f in found.crisis_follow_ups.values() if f.due_at is not None]

    def crisis_follow_ups_of_person(self, person_id: UUID) -> list[tuple[UUID, CrisisFollowUp]] | None:
        """The follow-ups of this record and of those intake merged into it, each with the record
        that holds it (None: the record is unknown). Each stays on its own record, where its
        timer runs; only reading and acknowledging follow the merge."""
        found = [(record, self.crisis_follow_ups(record)) for record in self.records_of(person_id)]  # type: ignore[attr-defined]
        if found[0][1] is None:
            return None
        pairs = [(record, follow_up) for record, follow_ups in found for follow_up in follow_ups or []]
        return pairs if len(found) == 1 else sorted(pairs, key=lambda pair: pair[1].due_at or datetime.min.replace(tzinfo=timezone.utc))

    def follow_up_holder(self, person_id: UUID, contact_id: str) -> UUID:
        """Which of the person's records (this one, then those merged into it) holds the open
        follow-up of `contact_id`: this record when none does (its answer is then 404 as before)."""
        for record, follow_up in self.crisis_follow_ups_of_person(person_id) or []:
            if follow_up.contact_id == contact_id:
                return record
        return person_id

    def follow_up_schedules(self, people: Iterable[UUID]) -> dict[UUID, dict[str, datetime]]:
        """When each open follow-up of these people takes its next step (for the timer's table)."""
        def schedule(person: Any) -> dict[str, datetime]:
            return {contact_id: due[1] for contact_id, follow_up in person.crisis_follow_ups.items()
                    if (due := follow_up.next_step(self.escalation_policy)) is not None}

        found = self.read_current_many({person_id: schedule for person_id in people})  # type: ignore[attr-defined]
        return {person_id: found.get(person_id, {}) for person_id in people}

    def acknowledgement_context(self, person_id: UUID, contact_id: str, subject: str,
                                holder: UUID | None = None) -> RecordContext:
        """Who may acknowledge: the person's care team, and agency supervisors once the follow-up
        has escalated to supervisors (they were notified, though not on the team). Decided from the
        team's events alone for anyone else, as every access check here is. `holder`: the record
        holding the follow-up when intake merged it into `person_id`'s (whose team is the union)."""
        context: RecordContext = self.record_context(person_id)  # type: ignore[attr-defined]
        if subject not in self.agency_supervisors:
            return context
        follow_up = self.follower(holder or person_id)  # type: ignore[attr-defined]
        found = follow_up.crisis_follow_ups.get(contact_id) if follow_up is not None else None
        if found is not None and Audience.SUPERVISORS in found.notified:
            return RecordContext(person_id, context.team | {subject})
        return context

    def _change_person(self, person_id: UUID, change: Callable[[Any], T], missing: T | Exception) -> T:
        follower_class: Any = self.follower_class  # type: ignore[attr-defined]
        follower_id = follower_class.create_id(person_id=person_id)
        with self._follow_up_writes.hold(follower_id):
            for _ in range(ATTEMPTS):
                person = self.check_out_many([follower_id]).get(follower_id)  # type: ignore[attr-defined]
                if person is None:
                    if isinstance(missing, Exception):
                        raise missing
                    return missing
                outcome = change(person)  # a refusal raises: the checked-out copy is dropped
                if not person.pending_events:
                    # Dropped, not put back: the consumer may have cached a newer one meanwhile.
                    return outcome
                try:
                    self.record(person)  # type: ignore[attr-defined]
                    return outcome
                except IntegrityError:
                    self.forget([follower_id])  # type: ignore[attr-defined]
        raise FollowUpKeptChanging(f"the notifications of {person_id} kept changing; nothing was saved")


def _copy(follow_up: CrisisFollowUp) -> CrisisFollowUp:
    return CrisisFollowUp(follow_up.contact_id, follow_up.contact_kind, follow_up.due_at, dict(follow_up.steps),
                          follow_up.acknowledged_by, follow_up.acknowledged_role, follow_up.acknowledged_at,
                          follow_up.followed_up_on)
