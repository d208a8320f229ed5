"""Careplan publishes what each plan change was, in kinds and ids, saved with the change itself."""

from __future__ import annotations

from datetime import date, datetime, timezone
from uuid import uuid4

import pytest

from services.careplan.domain.plan import CarePlan, InvalidPlanChange, Preferences
from services.careplan.domain.plan_changes import CHANGE_KINDS, NOT_PLAN_CHANGES, PlanChanges
from services.careplan.domain.safety_plan import SafetyPlan
from services.careplan.translation import TRANSLATIONS
from shared.contracts.careplan import PlanChangedV1
from shared.domain import Provenance
from shared.relay import to_integration_event
from tests.unit.test_following import careplan  # noqa: F401 - careplan is a fixture

COORDINATOR = Provenance(actor_id="casey", actor_role="care_coordinator", correlation_id="corr-1")
PERSON_WORDS = "I want to sleep through the night without drinking"


def published(careplan, person):  # noqa: F811
    events = careplan.events.get(PlanChanges.create_id(person))
    return [to_integration_event("careplan", n, event, TRANSLATIONS[type(event)](event)).event
            for n, event in enumerate(events, start=1)]


def test_each_plan_change_is_published_once_in_kinds_and_ids_never_the_persons_words(careplan):  # noqa: F811
    person = uuid4()
    careplan.add_team_member(person, "casey", "care_coordinator", COORDINATOR)
    careplan.add_team_member(person, "pat", "peer_specialist", COORDINATOR)

    assert careplan.set_goal(person, "g-1", PERSON_WORDS, None, "clinical_care", ["nights slept"], None, COORDINATOR)
    assert not careplan.set_goal(person, "g-1", PERSON_WORDS, None, "clinical_care", ["nights slept"], None,
                                 COORDINATOR)  # a retried request changes nothing, and records nothing
    careplan.record_indicator_value(person, "g-1", "nights slept", 4, date(2026, 11, 24), "better week", COORDINATOR)
    careplan.add_support(person, "s-1", "peer_support", "Weekly walk and talk", "pat", None, COORDINATOR)
    careplan.add_support(person, "s-2", "housing", "Help with the tenancy", "Sunrise Housing", None, COORDINATOR)
    careplan.review_plan(person, "r-1", date(2026, 11, 25), "Sleep goal added", "The person asked", COORDINATOR)
    careplan.revise_safety_plan(person, {"warning_signs": ["Not sleeping"]}, 0,
                                datetime(2026, 11, 25, 9, tzinfo=timezone.utc), COORDINATOR)

    events = published(careplan, person)
    assert [(e.stream, e.person_sequence, e.routing_key) for e in events] == [
        ("careplan.plan_changes", n, "careplan.plan_changes.changed") for n in range(1, 7)]
    assert [e.payload for e in events] == [
        {"change": "goal_set", "item_id": "g-1", "named_members": []},
        {"change": "goal_progress", "item_id": "g-1", "named_members": []},
        {"change": "support_added", "item_id": "s-1", "named_members": ["pat"]},  # the provider is on the team
        {"change": "support_added", "item_id": "s-2", "named_members": []},  # a provider named as text is not
        {"change": "plan_reviewed", "item_id": "r-1", "named_members": []},
        {"change": "safety_plan_revised", "item_id": "1", "named_members": []},
    ]
    assert all(str(e.person_id) == str(person) and e.actor.id == "casey" for e in events)
    for words in (PERSON_WORDS, "better week", "Weekly walk", "Sunrise", "Sleep goal", "Not sleeping"):
        assert words not in str(events)
    assert PlanChangedV1.model_validate(events[2].payload).named_members == ["pat"]
    assert set(careplan.care_plan(person).goals) == {"g-1"}


def test_a_refused_change_leaves_neither_the_plan_nor_the_published_stream_changed(careplan):  # noqa: F811
    person = uuid4()
    careplan.set_goal(person, "g-1", PERSON_WORDS, None, None, [], None, COORDINATOR)
    with pytest.raises(InvalidPlanChange):
        careplan.change_goal_status(person, "g-1", "failed", None, COORDINATOR)
    assert careplan.change_goal_status(person, "g-1", "achieved", "reached it", COORDINATOR)
    assert not careplan.change_goal_status(person, "g-1", "achieved", None, COORDINATOR)
    assert [e.payload["change"] for e in published(careplan, person)] == ["goal_set", "goal_status_changed"]


def test_a_plan_started_without_a_change_publishes_nothing(careplan):  # noqa: F811
    person = uuid4()
    assert not careplan.describe_person(person, [], Preferences(), COORDINATOR)
    assert careplan.care_plan(person) is not None
    assert published(careplan, person) == []


def test_every_event_of_the_plans_is_a_change_kind_or_named_as_none():
    for aggregate in (CarePlan, SafetyPlan):
        recorded = {cls for name, cls in vars(aggregate).items()
                    if isinstance(cls, type) and issubclass(cls, aggregate.Event) and name != "Event"}
        assert recorded <= set(CHANGE_KINDS) | NOT_PLAN_CHANGES, recorded - set(CHANGE_KINDS) - NOT_PLAN_CHANGES
