"""A person's record in careplan as it was at a given moment, for auditors: rebuilt from the events
stored up to that moment, never read from an aggregate's current copy or from the picture table.

Each of the person's aggregates (timeline, care team, care plan, medication collaboration, safety
plan: ids uuid5 of the person's id) is replayed from its own events whose timestamp is at or
before the moment. An aggregate's state at a version is made of all its events up to that version,
so the replay takes the longest *prefix* of its history that happened by then. The integrated
picture is the projector's own pure fold (picture/model.py) over those same events, in the order
they happened, and what is shown of it is `view.present` at that moment, as a live read would have
shown it then.

An event's timestamp is when careplan recorded it (for the timeline, when intake's event reached
careplan), so "as of T" is what careplan's own endpoints could have answered at T.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import takewhile
from typing import Any
from uuid import UUID

from eventsourcing.application import project_aggregate

from services.careplan.application import CareplanApplication
from services.careplan.domain.care_team import CareTeam, Membership, memberships
from services.careplan.domain.medication import MedicationCollaboration
from services.careplan.domain.plan import CarePlan
from services.careplan.domain.reviews import NextReview
from services.careplan.domain.safety_plan import SafetyPlan, SafetyPlanVersion, needs_review
from services.careplan.domain.timeline import Timeline
from services.careplan.picture.document import Json
from services.careplan.picture.model import fold
from services.careplan.picture.merged import combine
from services.careplan.picture.view import present
from shared.consent import ConsentDirective

# The person's aggregates whose events the picture folds (the published copies, CrisisFollowUps
# and PlanChanges, repeat what the plans hold and show nothing).
PERSON_AGGREGATES: tuple[Any, ...] = (Timeline, CareTeam, CarePlan, MedicationCollaboration, SafetyPlan)


class InTheFuture(ValueError):
    """A moment that has not happened yet has no state to show."""


@dataclass(frozen=True)
class SafetyPlanAsOf:
    current: SafetyPlanVersion
    latest_number: int
    needs_review: bool


@dataclass(frozen=True)
class RecordAsOf:
    """What careplan held about the person at `at`."""

    person_id: UUID
    at: datetime
    team: dict[str, str]  # member id -> role
    joined_through_merge: dict[str, str]  # member id -> the duplicate record they came from
    team_history: list[Membership]
    plan: CarePlan | None
    next_review: NextReview | None
    safety_plan: SafetyPlanAsOf | None
    consents: list[ConsentDirective]  # in the order careplan first heard of them
    picture: Json  # as `GET /people/{id}/picture` would have served it at `at`


def history_up_to(application: CareplanApplication, aggregate_id: UUID, at: datetime) -> list[Any]:
    """The aggregate's stored events (decoded) that had happened by `at`: the longest prefix of its
    history whose timestamps are at or before it."""
    stored: Iterable[Any] = application.events.get(aggregate_id)
    return list(takewhile(lambda event: event.timestamp <= at, stored))


def record_as_of(application: CareplanApplication, person_id: UUID, at: datetime,
                 now: datetime | None = None) -> RecordAsOf | None:
    """The person's record as it was at `at` (aware), or None when careplan had not heard of them
    by then (their timeline did not exist yet). `at` after `now` raises InTheFuture."""
    if now is not None and at > now:
        raise InTheFuture(f"{at.isoformat()} is after now ({now.isoformat()})")
    histories = {kind: history_up_to(application, kind.create_id(person_id=person_id), at)
                 for kind in PERSON_AGGREGATES}
    timeline: Timeline | None = project_aggregate(None, histories[Timeline])
    if timeline is None:
        return None
    team: CareTeam | None = project_aggregate(None, histories[CareTeam])
    plan: CarePlan | None = project_aggregate(None, histories[CarePlan])
    safety: SafetyPlan | None = project_aggregate(None, histories[SafetyPlan])
    # The picture: the projector's fold over the same events, in the order they happened.
    everything = sorted((event for events in histories.values() for event in events), key=lambda e: e.timestamp)
    picture = fold(everything).get(str(person_id))
    assert picture is not None  # the timeline's first event starts it
    return RecordAsOf(
        person_id=person_id, at=at,
        team=dict(team.members) if team is not None else {},
        joined_through_merge=dict(team.joined_through_merge) if team is not None else {},
        team_history=memberships(histories[CareTeam]),
        plan=plan,
        next_review=plan.next_review(timeline.review_prompts()) if plan is not None else None,
        safety_plan=_safety_plan(safety, timeline),
        consents=list(timeline.consents.values()),
        # This record's own picture, its entries tagged as the live read tags them (records merged
        # into it are not combined into a past moment: each is asked for by its own id).
        picture=present(combine(picture), at),
    )


def _safety_plan(safety: SafetyPlan | None, timeline: Timeline) -> SafetyPlanAsOf | None:
    """As `CareplanApplication.safety_plan_version` reads the current version (None: no version)."""
    if safety is None or safety.current is None:
        return None
    crises = [contact.occurred_at for contact in timeline.crisis_contacts]
    return SafetyPlanAsOf(safety.current, safety.current_number, needs_review(safety.current.written_at, crises))
