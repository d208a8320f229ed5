"""The person's plan changes as a published stream (`careplan.plan_changes`).

The care plan and the safety plan hold the person's words, so neither is published: consumers apply
a published stream by sequence, so every event of it must be published. This aggregate, one per
person and saved in the same transaction as each change to either plan, carries only what changed
in kind and ids (a goal set, progress on it, a support added, a review...) and the team members the
change names: notifications makes the coordinator and those members due to hear of it.

What a change names: a support whose `provided_by` is a care-team member's id names that member
(supports name their providers as text; only an id that is on the team is taken, never the text).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import event

from services.careplan.domain.plan import CarePlan
from services.careplan.domain.safety_plan import SafetyPlan
from shared.domain import Provenance
from shared.person_aggregate import PersonAggregate, command

PLAN_CHANGES_NAMESPACE = UUID("0b7e2f41-9c5d-4a6e-8f13-2d4c6a8e1b57")


@dataclass(frozen=True)
class PlanChange:
    """One change to the person's plans, in kind and ids only."""

    change: str
    item_id: str | None = None  # the goal, support, setback or review changed (None: the plan as a whole)
    named: tuple[str, ...] = ()  # team members the change names


# A plan event -> the kind of change it is, and the attribute holding the id of what it changed.
# Events left out change nothing the team is told about: the plan's start (its first change says
# it), and crisis follow-ups (published on their own stream, crisis_follow_ups.py).
CHANGE_KINDS: dict[type, tuple[str, str | None]] = {
    CarePlan.GoalSet: ("goal_set", "goal_id"),
    CarePlan.IndicatorValueRecorded: ("goal_progress", "goal_id"),
    CarePlan.GoalStatusChanged: ("goal_status_changed", "goal_id"),
    CarePlan.GoalSharingMarked: ("goal_sharing_marked", "goal_id"),
    CarePlan.PersonDescribed: ("person_described", None),
    CarePlan.SupportAdded: ("support_added", "support_id"),
    CarePlan.SupportEnded: ("support_ended", "support_id"),
    CarePlan.SupportSharingMarked: ("support_sharing_marked", "support_id"),
    CarePlan.SetbackRecorded: ("setback_recorded", "setback_id"),
    CarePlan.Reviewed: ("plan_reviewed", "review_id"),
    CarePlan.AgreementRecorded: ("agreement_recorded", None),
    SafetyPlan.Revised: ("safety_plan_revised", "number"),
}
NOT_PLAN_CHANGES: frozenset[type] = frozenset({
    CarePlan.Started, CarePlan.CrisisFollowedUp, SafetyPlan.Started, CarePlan.Created, SafetyPlan.Created})


def plan_changes(events: Iterable[Any], plan: CarePlan | None,
                 team: Callable[[], Collection[str]]) -> list[PlanChange]:
    """The changes `events` (just triggered on a plan, not yet saved) make, naming the members of
    the care team (`team()`: its member ids, asked only for a support) a support of `plan` names
    as its provider."""
    found = []
    for plan_event in events:
        kind = CHANGE_KINDS.get(type(plan_event))
        if kind is None:
            continue
        change, id_attribute = kind
        item_id = None if id_attribute is None else str(getattr(plan_event, id_attribute))
        named: tuple[str, ...] = ()
        if plan is not None and change.startswith("support_") and item_id in plan.supports:
            provider = plan.supports[item_id].provided_by
            named = (provider,) if provider in team() else ()
        found.append(PlanChange(change, item_id, named))
    return found


class PlanChanges(PersonAggregate):
    if TYPE_CHECKING:  # The classes @event("...") defines as the class body runs, for mypy (fields unseen)
        FirstChanged: ClassVar[type[Any]]
        Changed: ClassVar[type[Any]]

    @staticmethod
    def create_id(person_id: UUID, **_: object) -> UUID:
        return uuid5(PLAN_CHANGES_NAMESPACE, str(person_id))

    @classmethod
    def first(cls, person_id: UUID, changes: list[PlanChange], provenance: Provenance) -> PlanChanges:
        """The stream, started with the first of `changes` and holding the rest (at least one)."""
        first, *rest = changes
        published = cls(person_id, first.change, first.item_id, list(first.named), provenance)
        published.record(rest, provenance)
        return published

    # The stream starts with its first change: no empty "opened" event to publish.
    @event("FirstChanged")
    def __init__(self, person_id: UUID, change: str, item_id: str | None, named: list[str],
                 provenance: Provenance) -> None:
        self.person_id = person_id
        self.changes = 1

    @command
    def record(self, changes: list[PlanChange], provenance: Provenance) -> None:
        for change in changes:
            self._changed(change.change, change.item_id, list(change.named))

    @event("Changed")
    def _changed(self, change: str, item_id: str | None, named: list[str]) -> None:
        self.changes += 1
