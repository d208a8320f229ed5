"""The care plan's rules: the person's words, setbacks as part of the path, reviews, agreement,
medication collaboration within scope of practice, and the versioned safety plan. The domain's
rules run in memory; the application's run in memory and on PostgreSQL (`persistence`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from services.careplan.application import CareplanApplication
from services.careplan.domain.care_team import CareTeam, NeedsConsent
from services.careplan.domain.medication import (
    NOTE_KINDS,
    InvalidNote,
    MedicationCollaboration,
    OnlySupervisorsAssignPrescribing,
    OutsideScopeOfPractice,
    ScopeOfPractice,
)
from services.careplan.domain.plan import CarePlan, InvalidPlanChange, Preferences
from services.careplan.domain.reviews import ReviewPrompt, next_review
from services.careplan.domain.safety_plan import SECTIONS, InvalidSafetyPlan, SafetyPlan, StaleVersion, needs_review
from tests.unit.conftest import application_env

START = date(2026, 1, 5)
NOON = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)


@pytest.fixture
def plan(provenance) -> CarePlan:
    return CarePlan(uuid4(), START, provenance)


@pytest.fixture
def application(request, persistence) -> Iterator[CareplanApplication]:
    application = CareplanApplication(env=application_env(request, "careplan"))
    yield application
    application.close()


# -- goals, supports, setbacks ---------------------------------------------------------------------


def test_a_goal_keeps_the_persons_words_with_the_teams_restatement_beside_them(plan, provenance):
    plan.set_goal("g1", "I want my kids back on weekends", "Regain weekend custody", "family", ["visits"], provenance)
    goal = plan.goals["g1"]
    assert (goal.in_own_words, goal.team_restatement) == ("I want my kids back on weekends", "Regain weekend custody")
    assert plan.set_goal("g1", "again", None, None, [], provenance) is False  # the same goal id: once


@pytest.mark.parametrize(("field", "kwargs"), [
    ("in_own_words", {"in_own_words": "  "}),
    ("life_domain", {"life_domain": "astrology"}),
    ("indicators", {"indicators": ["days housed", "days housed"]}),
])
def test_a_goal_that_cannot_be_recorded_names_the_field(plan, provenance, field, kwargs):
    goal = {"goal_id": "g", "in_own_words": "Keep my apartment", "team_restatement": None,
            "life_domain": "housing", "indicators": [], **kwargs}
    with pytest.raises(InvalidPlanChange) as refused:
        plan.set_goal(**goal, provenance=provenance)
    assert refused.value.field == field
    assert plan.goals == {}


def test_indicator_values_are_kept_over_time_and_only_for_the_goals_indicators(plan, provenance):
    plan.set_goal("g1", "Stay housed", None, "housing", ["nights housed this month"], provenance)
    plan.record_indicator_value("g1", "nights housed this month", 12, date(2026, 2, 1), None, provenance)
    plan.record_indicator_value("g1", "nights housed this month", 30, date(2026, 3, 1), "a good month", provenance)
    assert [v.value for v in plan.goals["g1"].values] == [12, 30]
    with pytest.raises(InvalidPlanChange, match="no indicator") as refused:
        plan.record_indicator_value("g1", "weight", 70, date(2026, 3, 1), None, provenance)
    assert refused.value.field == "indicator"
    with pytest.raises(InvalidPlanChange) as refused:
        plan.record_indicator_value("nope", "x", 1, date(2026, 3, 1), None, provenance)
    assert refused.value.field == "goal_id"


def test_a_setback_is_recorded_beside_the_goals_without_closing_them_or_erasing_progress(plan, provenance):
    plan.set_goal("g1", "Cut down drinking", None, "harm_reduction", ["drinking days per week"], provenance)
    plan.record_indicator_value("g1", "drinking days per week", 2, date(2026, 2, 1), None, provenance)
    plan.record_setback("s1", date(2026, 2, 10), "I drank every day after my brother died", "My sponsor called",
                        ["g1"], provenance)
    assert plan.goals["g1"].status == "active"
    assert [v.value for v in plan.goals["g1"].values] == [2]  # progress before the setback stays
    assert plan.setbacks[0].in_own_words == "I drank every day after my brother died"
    with pytest.raises(InvalidPlanChange) as refused:
        plan.record_setback("s2", date(2026, 2, 11), "x", None, ["unknown-goal"], provenance)
    assert refused.value.field == "goal_ids"


def test_goals_are_reached_or_set_aside_never_failed(plan, provenance):
    plan.set_goal("g1", "Get a job", None, "employment", [], provenance)
    assert plan.change_goal_status("g1", "set_aside", "I want to focus on my health first", provenance)
    assert plan.active_goals == []
    assert plan.change_goal_status("g1", "active", "Ready again", provenance)
    with pytest.raises(InvalidPlanChange):
        plan.change_goal_status("g1", "failed", None, provenance)


def test_supports_across_life_domains_say_who_provides_them_and_can_end(plan, provenance):
    plan.add_support("s1", "transportation", "Bus pass", "County transit program", provenance)
    plan.add_support("s2", "peer_support", "Weekly peer group", "Recovery Cafe", provenance)
    plan.end_support("s1", "The person got a car", provenance)
    assert [s.support_id for s in plan.active_supports] == ["s2"]
    assert plan.end_support("s1", "again", provenance) is False
    with pytest.raises(InvalidPlanChange) as refused:
        plan.add_support("s3", "spaceflight", "x", "y", provenance)
    assert refused.value.field == "life_domain"


def test_strengths_and_preferences_are_the_persons_description(plan, provenance):
    preferences = Preferences(language="es", culture="Mexican-American", faith="Catholic", who_to_involve=("my aunt",))
    assert plan.describe_person(["Good with kids", "Cooks"], preferences, provenance)
    assert plan.describe_person(["Good with kids", "Cooks"], preferences, provenance) is False
    assert plan.preferences.who_to_involve == ("my aunt",)


# -- reviews and agreement -------------------------------------------------------------------------


def test_reviews_are_due_every_90_days_from_the_last_one():
    assert next_review(START, START, []).due_on == START + timedelta(days=90)
    assert next_review(START, START, []).prompted_by == ("scheduled",)


def test_a_positive_screening_or_a_crisis_after_the_last_review_makes_a_review_due_at_once():
    prompts = [ReviewPrompt("positive_screening", "sc-1", date(2026, 2, 1)),
               ReviewPrompt("crisis_contact", "cc-1", date(2026, 2, 3))]
    due = next_review(START, START, prompts)
    assert due.due_on == date(2026, 2, 1)
    assert due.prompted_by == ("positive_screening:sc-1", "crisis_contact:cc-1")
    # A review that answered both: the schedule resumes from it.
    answered = ["positive_screening:sc-1", "crisis_contact:cc-1"]
    assert next_review(START, date(2026, 2, 4), prompts, answered).due_on == date(2026, 2, 4) + timedelta(days=90)


def test_a_prompt_that_arrives_after_a_review_it_predates_still_makes_a_review_due():
    late = ReviewPrompt("crisis_contact", "cc-2", date(2026, 1, 20))  # reached careplan after the review
    due = next_review(START, date(2026, 2, 4), [late], answered=["positive_screening:sc-1"])
    assert (due.due_on, due.prompted_by) == (date(2026, 1, 20), ("crisis_contact:cc-2",))


def test_what_happened_before_the_plan_started_is_what_it_was_written_with():
    before = ReviewPrompt("positive_screening", "sc-0", START - timedelta(days=3))
    assert next_review(START, START, [before]).prompted_by == ("scheduled",)


def test_a_review_records_what_changed_and_why(plan, provenance):
    plan.record_review("r1", date(2026, 2, 4), "Added a housing goal", "Eviction notice", ["crisis_contact:cc-1"],
                       provenance)
    assert plan.last_reviewed_on == date(2026, 2, 4)
    with pytest.raises(InvalidPlanChange) as refused:
        plan.record_review("r2", date(2026, 2, 5), "x", " ", [], provenance)
    assert refused.value.field == "why"
    with pytest.raises(InvalidPlanChange) as refused:
        plan.record_review("r3", date(2026, 1, 1), "x", "y", [], provenance)
    assert refused.value.field == "reviewed_on"


def test_the_person_agrees_or_disagrees_with_a_reason_about_the_plan_as_it_stands(plan, provenance):
    plan.set_goal("g1", "Sleep through the night", None, "clinical_care", [], provenance)
    with pytest.raises(InvalidPlanChange) as refused:
        plan.record_agreement(False, "person", None, provenance)
    assert refused.value.field == "reason"
    plan.record_agreement(False, "person", "I don't want the group sessions", provenance)
    assert plan.agreement.reason == "I don't want the group sessions"
    plan.record_agreement(True, "guardian", None, provenance)
    assert plan.agreement_is_current
    plan.set_goal("g2", "See my mom", None, "family", [], provenance)
    assert not plan.agreement_is_current  # the plan changed since they agreed


# -- medication collaboration ----------------------------------------------------------------------


@pytest.fixture
def medication(provenance) -> MedicationCollaboration:
    return MedicationCollaboration(uuid4(), provenance)


def test_any_team_member_adds_collaboration_notes(medication, provenance):
    medication.add_note("n1", "help_given", "Set up a weekly pill organizer", "sertraline", None,
                        "peer_specialist", provenance)
    medication.add_note("n2", "person_choice", "I want to stop, it makes me numb", "sertraline", "chooses_to_stop",
                        "case_manager", provenance)
    assert [n.kind for n in medication.notes] == ["help_given", "person_choice"]
    assert medication.add_note("n1", "help_given", "again", None, None, "clinician", provenance) is False


@pytest.mark.parametrize("kind", ["covert_administration", "given_without_knowledge", "withhold_services",
                                  "withhold_funds", "adherence_condition"])
def test_no_note_can_record_covert_medication_or_a_coercive_threat(medication, provenance, kind):
    with pytest.raises(InvalidNote) as refused:
        medication.add_note("n", kind, "...", None, None, "clinician", provenance)
    assert refused.value.field == "kind"
    assert medication.notes == []


def test_the_note_kinds_are_a_closed_list_without_coercion():
    assert not any(word in kind for kind in NOTE_KINDS for word in ("covert", "withhold", "force", "threat"))


def test_a_persons_choice_names_the_choice(medication, provenance):
    with pytest.raises(InvalidNote) as refused:
        medication.add_note("n", "person_choice", "I won't take it", None, None, "clinician", provenance)
    assert refused.value.field == "choice"


@pytest.mark.parametrize("role", ["prescriber", "physician", "nurse_practitioner"])
def test_prescribing_roles_record_prescribing_decisions(medication, provenance, role):
    assert medication.record_decision("d1", "start", "sertraline", "50 mg daily", "Discussed options; person chose",
                                      True, role, ScopeOfPractice(), provenance)
    assert medication.decisions[0].prescriber_role == role


@pytest.mark.parametrize("role", ["clinician", "care_coordinator", "peer_specialist", "case_manager", "supervisor",
                                  "person"])
def test_anyone_else_is_refused_and_nothing_is_recorded_as_a_decision(medication, provenance, role):
    version = medication.version
    with pytest.raises(OutsideScopeOfPractice, match="cannot record prescribing decisions"):
        medication.record_decision("d1", "stop", "sertraline", None, "x", True, role, ScopeOfPractice(), provenance)
    assert medication.decisions == []
    assert medication.version == version
    pending = list(medication.collect_events())
    assert not any(isinstance(e, MedicationCollaboration.PrescribingDecisionRecorded) for e in pending)


def test_an_agency_may_configure_more_prescribing_roles(medication, provenance):
    scope = ScopeOfPractice.with_configured(["clinical_pharmacist"])
    assert medication.record_decision("d1", "change", "lithium", "300 mg twice daily", "Levels low", True,
                                      "clinical_pharmacist", scope, provenance)


def test_a_refused_decision_leaves_no_trace_in_the_store(application, provenance):
    person = uuid4()
    with pytest.raises(OutsideScopeOfPractice):
        application.record_prescribing_decision(person, "d1", "stop", "sertraline", None, "x", True, "clinician",
                                                provenance)
    assert application.medication_record(person) is None
    application.add_medication_note(person, "n1", "question_for_prescriber", "Can the dose be taken at night?",
                                    "sertraline", None, "clinician", provenance)
    assert application.medication_record(person).decisions == []


def test_decisions_state_what_is_needed(medication, provenance):
    with pytest.raises(InvalidNote) as refused:
        medication.record_decision("d1", "start", "sertraline", None, "x", True, "prescriber", ScopeOfPractice(),
                                   provenance)
    assert refused.value.field == "dose"
    with pytest.raises(InvalidNote) as refused:
        medication.record_decision("d1", "pause", "sertraline", "x", "x", True, "prescriber", ScopeOfPractice(),
                                   provenance)
    assert refused.value.field == "decision"


# -- the safety plan -------------------------------------------------------------------------------


def test_the_safety_plan_has_the_stanley_brown_sections_and_keeps_every_version(provenance):
    assert len(SECTIONS) == 7
    safety = SafetyPlan(uuid4(), provenance)
    assert safety.revise({"warning_signs": ["Not sleeping"], "reasons_for_living": ["My daughter"]}, 0, NOON,
                         provenance) == 1
    assert safety.revise({"warning_signs": ["Not sleeping", "Skipping meals"]}, 1, NOON + timedelta(days=1),
                         provenance) == 2
    assert safety.revision(1).sections["reasons_for_living"] == ("My daughter",)
    assert safety.current.sections["warning_signs"] == ("Not sleeping", "Skipping meals")
    assert set(safety.current.sections) == set(SECTIONS)


def test_a_revision_based_on_an_old_version_is_refused(provenance):
    safety = SafetyPlan(uuid4(), provenance)
    safety.revise({"warning_signs": ["x"]}, 0, NOON, provenance)
    with pytest.raises(StaleVersion, match="version 1"):
        safety.revise({"warning_signs": ["y"]}, 0, NOON, provenance)


@pytest.mark.parametrize("sections", [{}, {"warning_signs": ["  "]}, {"hobbies": ["x"]}])
def test_an_empty_or_unknown_section_is_refused(provenance, sections):
    with pytest.raises(InvalidSafetyPlan) as refused:
        SafetyPlan(uuid4(), provenance).revise(sections, 0, NOON, provenance)
    assert refused.value.field == "sections"


def test_a_crisis_after_the_current_version_marks_the_plan_for_review():
    assert needs_review(NOON, [NOON + timedelta(hours=1)])
    assert not needs_review(NOON, [NOON - timedelta(days=3)])
    assert not needs_review(None, [NOON])  # no plan yet: nothing to review (one is needed, see the picture)


# -- the care team ---------------------------------------------------------------------------------


def test_family_or_natural_supports_join_the_team_only_with_the_persons_consent(provenance):
    team = CareTeam(uuid4(), provenance)
    with pytest.raises(NeedsConsent, match="consent"):
        team.add_member("aunt-rosa", "family_or_natural_support", provenance)
    assert team.members == {}
    assert team.add_member("aunt-rosa", "family_or_natural_support", provenance, consented=True)


def test_the_team_history_shows_who_joined_and_left_in_which_role(application, provenance):
    person = uuid4()
    application.add_team_member(person, "kim", "clinician", provenance)
    application.add_team_member(person, "kim", "care_coordinator", provenance)  # a new role: a new period
    application.add_team_member(person, "pat", "peer_specialist", provenance)
    application.remove_team_member(person, "kim", provenance)
    history = application.team_history(person)
    assert [(p.member_id, p.role, p.left_at is None) for p in history] == [
        ("kim", "clinician", False), ("kim", "care_coordinator", False), ("pat", "peer_specialist", True)]
    assert history[0].left_at == history[1].joined_at


def test_only_a_supervisor_gives_a_team_member_a_prescribing_role(application, provenance):
    person_id = uuid4()
    coordinator = replace(provenance, actor_id="alex", actor_role="care_coordinator")
    with pytest.raises(OnlySupervisorsAssignPrescribing):
        application.add_team_member(person_id, "alex", "prescriber", coordinator)
    assert application.care_team(person_id) == {}  # refused before anything was loaded or saved

    assert application.add_team_member(person_id, "alex", "clinician", coordinator) is True
    supervisor = replace(provenance, actor_id="sam", actor_role="supervisor")
    assert application.add_team_member(person_id, "dr-lee", "prescriber", supervisor) is True
    assert application.care_team(person_id) == {"alex": "clinician", "dr-lee": "prescriber"}
