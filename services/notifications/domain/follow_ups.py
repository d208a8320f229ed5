"""Crisis follow-ups that escalate, kept on the person's notifications aggregate.

Intake says when a crisis contact must be followed up (`follow_up_due`: 24 hours after a crisis
contact, 7 days after a hospital discharge). When that time comes the team is reminded; when the
follow-up is overdue (a grace period later) and nobody has acknowledged it, it escalates, urgently,
to the care coordinator; a further interval later, to the supervisors. Anyone notified may
acknowledge it ("I am on it"), which stops the escalation; careplan's record of the follow-up
closes it. Each step is an event, taken by whoever finds it due (the timer, services/notifications/
escalation.py): the step's event is the proof it was taken, so a restart never takes it twice.

Plain Python: times come from the caller, never from a clock here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from services.notifications.domain.routing import Audience
from shared.domain import UpstreamRef
from shared.followers import TeamFollower

FOLLOW_UP_NOTICE_NAMESPACE = UUID("0f3b7a2e-5c41-4d9a-8e06-b2d4c1a9e735")


class Step(StrEnum):
    REMINDER = "reminder"
    ESCALATED_TO_COORDINATOR = "escalated_to_coordinator"
    ESCALATED_TO_SUPERVISORS = "escalated_to_supervisors"


# Who hears of each step. All but the reminder are urgent: they do not wait for quiet hours to end.
STEP_AUDIENCE = {Step.REMINDER: Audience.CARE_TEAM, Step.ESCALATED_TO_COORDINATOR: Audience.COORDINATOR,
                 Step.ESCALATED_TO_SUPERVISORS: Audience.SUPERVISORS}


@dataclass(frozen=True)
class EscalationPolicy:
    """How long an overdue follow-up waits before each escalation (settings of the service)."""

    overdue_after: timedelta = timedelta(hours=2)  # after the due time: escalate to the coordinator
    supervisors_after: timedelta = timedelta(hours=4)  # after the coordinator's escalation


@dataclass
class CrisisFollowUp:
    contact_id: str
    contact_kind: str | None = None
    due_at: datetime | None = None  # None while only careplan's record of it has arrived
    steps: dict[str, datetime] = field(default_factory=dict)  # step -> when it was taken
    acknowledged_by: str | None = None
    acknowledged_role: str | None = None
    acknowledged_at: datetime | None = None
    followed_up_on: date | None = None

    @property
    def status(self) -> str:
        if self.followed_up_on is not None:
            return "followed_up"
        if self.acknowledged_by is not None:
            return "acknowledged"
        return "escalated" if Step.ESCALATED_TO_COORDINATOR in self.steps else "open"

    @property
    def notified(self) -> tuple[Audience, ...]:
        """The audiences told of it so far besides the whole team (who heard of the contact)."""
        return tuple(STEP_AUDIENCE[Step(step)] for step in self.steps)

    def next_step(self, policy: EscalationPolicy) -> tuple[Step, datetime] | None:
        """The next step and when it is due; None when nothing more will happen by itself."""
        if self.due_at is None or self.followed_up_on is not None or self.acknowledged_by is not None:
            return None
        if Step.REMINDER not in self.steps:
            return Step.REMINDER, self.due_at
        if Step.ESCALATED_TO_COORDINATOR not in self.steps:
            return Step.ESCALATED_TO_COORDINATOR, self.due_at + policy.overdue_after
        if Step.ESCALATED_TO_SUPERVISORS not in self.steps:
            return Step.ESCALATED_TO_SUPERVISORS, self.steps[Step.ESCALATED_TO_COORDINATOR] + policy.supervisors_after
        return None


class NotAFollowUp(LookupError):
    """No crisis contact with this id has reached notifications for this person."""


class AlreadyFollowedUp(Exception):
    """The follow-up is recorded: there is nothing left to acknowledge."""


def step_message(step: Step, follow_up: CrisisFollowUp) -> str:
    """What the step says: kinds and times only, never what happened."""
    kind = (follow_up.contact_kind or "crisis contact").replace("_", " ")
    due = follow_up.due_at.isoformat() if follow_up.due_at else "now"
    if step is Step.REMINDER:
        return (f"A follow-up after a {kind} is due now ({due}): reach the person and record the follow-up "
                "in their care plan.")
    if step is Step.ESCALATED_TO_COORDINATOR:
        return (f"Overdue: the follow-up after a {kind} was due at {due} and is not recorded. Reach the person "
                "today, or acknowledge that someone is on it.")
    return (f"Escalated to supervisors: the follow-up after a {kind} was due at {due}, is not recorded and "
            "nobody has acknowledged it.")


def step_notification_id(person_id: UUID, contact_id: str, step: Step) -> str:
    """Stable per step: delivery can use it as the receiver's idempotency key."""
    return str(uuid5(FOLLOW_UP_NOTICE_NAMESPACE, f"{person_id}/{contact_id}/{step}"))


# A step's notice has no upstream event: its cause is the step itself, named as this service's own
# stream, so that every NotificationDue names its cause alike (`upstream.event_id` is the notice's
# id for delivery) and the person's record counts the steps like any stream it follows.
STEPS_STREAM = "notifications.crisis_follow_up_steps"


def step_cause(person_id: UUID, contact_id: str, step: Step, sequence: int) -> UpstreamRef:
    notification_id = step_notification_id(person_id, contact_id, step)
    return UpstreamRef(source="notifications", stream=STEPS_STREAM, position=0, event_id=notification_id,
                       event_type=f"carecoord.notifications.crisis_follow_up.{step.value}", person_id=str(person_id),
                       sequence=sequence, correlation_id=notification_id)


class FollowsCrisisFollowUps(TeamFollower):
    """The person's crisis follow-ups, on the aggregate that records their due notifications (kept
    under the person's own id), so that a step and the notification it makes due are one save."""

    def __init__(self, person_id: UUID) -> None:
        super().__init__(person_id)
        self.crisis_follow_ups: dict[str, CrisisFollowUp] = {}

    # -- from upstream events (in the same change as the event's notice, which advances the sequence)

    @event("CrisisFollowUpExpected")
    def crisis_follow_up_expected(self, contact_id: str, contact_kind: str, due_at: datetime) -> None:
        follow_up = self.crisis_follow_ups.setdefault(contact_id, CrisisFollowUp(contact_id))
        follow_up.contact_kind, follow_up.due_at = contact_kind, due_at

    @event("CrisisFollowUpRecorded")
    def crisis_follow_up_recorded(self, contact_id: str, followed_up_on: date) -> None:
        # Careplan's record may arrive before intake's contact (two streams): it closes it either way.
        self.crisis_follow_ups.setdefault(contact_id, CrisisFollowUp(contact_id)).followed_up_on = followed_up_on

    # -- taken by the timer and by people --------------------------------------------------------------

    def take_due_follow_up_steps(self, now: datetime, policy: EscalationPolicy) -> list[tuple[str, Step]]:
        """Take every step due by `now`, each with the notification it makes due; what was taken."""
        taken = []
        for follow_up in list(self.crisis_follow_ups.values()):
            while (due := follow_up.next_step(policy)) is not None and due[1] <= now:
                step = due[0]
                self._follow_up_step_taken(follow_up.contact_id, step.value, now)
                self._notify_follow_up_step(follow_up, step, now)
                taken.append((follow_up.contact_id, step))
        return taken

    @event("CrisisFollowUpStepTaken")
    def _follow_up_step_taken(self, contact_id: str, step: str, at: datetime) -> None:
        self.crisis_follow_ups[contact_id].steps[step] = at

    def _notify_follow_up_step(self, follow_up: CrisisFollowUp, step: Step, now: datetime) -> None:
        # The same NotificationDue as any other, so webhooks and the live stream deliver it alike.
        notify: Any = getattr(self, "notification_due")
        sequence = self.upstream_applied.get(STEPS_STREAM, 0) + 1
        notify(step_cause(self.id, follow_up.contact_id, step, sequence), f"crisis_follow_up_{step.value}",
               STEP_AUDIENCE[step].value, step_message(step, follow_up), now, urgent=step is not Step.REMINDER,
               category="crisis")

    def acknowledge_crisis_follow_up(self, contact_id: str, by: str, role: str, at: datetime) -> bool:
        """False if it was acknowledged before (the first acknowledgement stands)."""
        follow_up = self.crisis_follow_ups.get(contact_id)
        if follow_up is None:
            raise NotAFollowUp(contact_id)
        if follow_up.followed_up_on is not None:
            raise AlreadyFollowedUp(contact_id)
        if follow_up.acknowledged_by is not None:
            return False
        self._follow_up_acknowledged(contact_id, by, role, at)
        return True

    @event("CrisisFollowUpAcknowledged")
    def _follow_up_acknowledged(self, contact_id: str, by: str, role: str, at: datetime) -> None:
        follow_up = self.crisis_follow_ups[contact_id]
        follow_up.acknowledged_by, follow_up.acknowledged_role, follow_up.acknowledged_at = by, role, at


def crisis_follow_up_events() -> tuple[str, ...]:
    """The names of the events that change a follow-up's schedule (the timer follows them)."""
    return ("CrisisFollowUpExpected", "CrisisFollowUpRecorded", "CrisisFollowUpStepTaken",
            "CrisisFollowUpAcknowledged")

