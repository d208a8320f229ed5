"""The care plan's domain cannot be made to store a state it cannot read back, even by a caller
that skips the HTTP edge: dates its derived values would overflow, non-finite numbers, empty ids,
times without a zone are refused before any event is triggered. And what older stores already hold
(an empty goal id, a review at the calendar's end) still reads back and exports."""

from __future__ import annotations

from datetime import date, datetime, timezone
from uuid import uuid4

import pytest
from fhir.resources.R4B.bundle import Bundle

from services.careplan.domain.medication import InvalidNote, MedicationCollaboration, ScopeOfPractice
from services.careplan.domain.plan import CarePlan, InvalidPlanChange
from services.careplan.domain.safety_plan import InvalidSafetyPlan, SafetyPlan
from services.careplan.picture.fhir import picture_bundle
from services.careplan.picture.model import fold
from services.careplan.picture.view import present
from tests.support.history import later_events, replayed

START = date(2026, 1, 5)
NOON = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)


@pytest.fixture
def plan(provenance) -> CarePlan:
    created = CarePlan(uuid4(), START, provenance)
    created.set_goal("g1", "Sleep through the night", None, None, ["hours slept"], provenance)
    created.collect_events()  # what is stored; a refusal must add nothing after it
    return created


def refused(error: pytest.ExceptionInfo, field: str, plan: CarePlan) -> None:
    assert error.value.field == field
    assert plan.collect_events() == []  # nothing was triggered, so nothing can be saved


@pytest.mark.parametrize("reviewed_on", [date.max, date(9999, 10, 3)])
def test_a_review_the_next_review_date_would_overflow_from_is_refused(plan, provenance, reviewed_on):
    with pytest.raises(InvalidPlanChange) as error:
        plan.record_review("r1", reviewed_on, "what changed", "why", ["scheduled"], provenance)
    refused(error, "reviewed_on", plan)
    assert plan.next_review([]).due_on == date(2026, 4, 5)


def test_a_plan_cannot_start_on_a_day_its_first_review_would_overflow_from(provenance):
    with pytest.raises(InvalidPlanChange) as error:
        CarePlan.start(uuid4(), date.max, provenance)
    assert error.value.field == "started_on"
    assert CarePlan.start(uuid4(), START, provenance).started_on == START


@pytest.mark.parametrize(("command", "field"), [
    (lambda p, by: p.record_indicator_value("g1", "hours slept", 7, date.max, None, by), "recorded_on"),
    (lambda p, by: p.record_setback("s1", date.max, "A bad week", None, [], by), "occurred_on"),
    (lambda p, by: p.record_crisis_follow_up("c1", date.max, None, by), "followed_up_on"),
    (lambda p, by: p.record_review("r1", NOON, "x", "y", [], by), "reviewed_on"),  # a time is not a day
])
def test_other_plan_dates_at_the_calendars_end_or_not_dates_are_refused(plan, provenance, command, field):
    with pytest.raises(InvalidPlanChange) as error:
        command(plan, provenance)
    refused(error, field, plan)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 10**400], ids=["nan", "inf", "-inf", "huge"])
def test_indicator_values_must_be_finite_numbers(plan, provenance, value):
    with pytest.raises(InvalidPlanChange) as error:
        plan.record_indicator_value("g1", "hours slept", value, START, None, provenance)
    refused(error, "value", plan)


@pytest.mark.parametrize(("command", "field"), [
    (lambda p, by: p.set_goal("", "Keep my flat", None, None, [], by), "goal_id"),
    (lambda p, by: p.set_goal("g2", "Keep my flat", None, None, [""], by), "indicators"),
    (lambda p, by: p.add_support(" ", "housing", "Rent help", "County", by), "support_id"),
    (lambda p, by: p.record_setback("", START, "A bad week", None, [], by), "setback_id"),
    (lambda p, by: p.record_review("", START, "x", "y", [], by), "review_id"),
])
def test_empty_ids_and_indicators_are_refused(plan, provenance, command, field):
    with pytest.raises(InvalidPlanChange) as error:
        command(plan, provenance)
    refused(error, field, plan)


def test_medication_note_and_decision_ids_must_not_be_empty(provenance):
    record = MedicationCollaboration(uuid4(), provenance)
    with pytest.raises(InvalidNote) as error:
        record.add_note("", "help_given", "Pill box", None, None, "peer_specialist", provenance)
    assert error.value.field == "note_id"
    with pytest.raises(InvalidNote) as error:
        record.record_decision("", "stop", "x", None, "y", True, "prescriber", ScopeOfPractice(), provenance)
    assert error.value.field == "decision_id"


def test_a_safety_plan_is_written_at_a_time_with_its_zone(provenance):
    safety = SafetyPlan(uuid4(), provenance)
    with pytest.raises(InvalidSafetyPlan) as error:
        safety.revise({"warning_signs": ["pacing"]}, 0, datetime(2026, 1, 5, 12), provenance)
    assert error.value.field == "written_at"
    assert safety.current is None


def test_what_an_older_store_holds_still_reads_back_and_exports(provenance):
    """Events stored before these checks: an empty goal id and indicator, words FHIR cannot hold
    as they are, a review on the calendar's last day."""
    person_id = uuid4()
    legacy = CarePlan(person_id, START, provenance)
    whose = {"person_id": person_id, "provenance": provenance}
    stored = later_events(
        legacy,
        ("GoalSet", {**whose, "goal_id": "", "in_own_words": "\x85", "team_restatement": None, "life_domain": "housing",
                     "indicators": ["", "\u2028"], "sharing_category": None}),
        ("IndicatorValueRecorded", {**whose, "goal_id": "", "indicator": "", "value": float("nan"),
                                    "recorded_on": START, "note": None}),
        ("SupportAdded", {**whose, "support_id": "s1", "life_domain": "housing", "description": " ",
                          "provided_by": "\x0b", "sharing_category": None}),
        ("Reviewed", {**whose, "review_id": "r1", "reviewed_on": date.max, "what_changed": "x", "why": "y",
                      "prompted_by": ["scheduled"]}),
    )
    history = [*legacy.collect_events(), *stored]
    replayed(legacy, stored)

    assert legacy.next_review([]).due_on == date.max  # due at the calendar's end, not an error
    shown = present(fold(history)[str(person_id)], NOON)
    assert shown["next_review"]["due_on"] == date.max.isoformat()
    bundle = Bundle.model_validate_json(picture_bundle(shown).model_dump_json())
    (goal,) = [entry.resource for entry in bundle.entry if entry.resource.get_resource_type() == "Goal"]
    assert goal.description.text  # something FHIR accepts stands in for words it cannot hold
