"""What family, natural supports and outside agencies see: only what consent directives in force
share with them, and substance use only when it is named."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from services.careplan.application import CareplanApplication
from services.careplan.domain.plan import CarePlan, InvalidPlanChange, NotThePersonsChoice
from services.careplan.domain.safety_plan import SafetyPlan
from services.careplan.domain.sharing import shared_record
from services.careplan.domain.timeline import Timeline
from tests.support.history import store_as_recorded
from tests.unit.conftest import IN_MEMORY
from shared.domain import Provenance
from tests.unit.test_following import upstream

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
AUNT = ("named_person", "aunt-rosa")


@pytest.fixture
def record(provenance):
    """A person with results in three domains, a crisis contact, a plan and a safety plan."""
    person = uuid4()
    timeline = Timeline(person_id=person)
    sequence = iter(range(1, 100))

    def ref():
        return upstream(person, next(sequence))

    timeline.note_person(ref(), "person_registered", "Registered", NOW, {"preferred_name": "Luz"})
    for screening, instrument, domain in (("s1", "PHQ-9", "mental_health"), ("s2", "AUDIT-C", "substance_use"),
                                          ("s3", "C-SSRS", "suicide_risk")):
        timeline.note_screening_result(ref(), "scored", NOW, screening, instrument, domain, 5, "moderate", True, [],
                                       True)
    timeline.note_crisis_contact(ref(), "crisis", "c1", "crisis_line_call", NOW, "resolved_in_community",
                                 NOW + timedelta(hours=24))
    plan = CarePlan(person, date(2026, 11, 1), provenance)
    plan.set_goal("g1", "Go back to choir", None, "family", [], provenance, sharing_category="general")
    plan.set_goal("g2", "Drink only at weekends", None, "harm_reduction", [], provenance,
                  sharing_category="substance_use")
    plan.add_support("sup1", "harm_reduction", "Naloxone kit", "Syringe services", provenance,
                     sharing_category="substance_use")
    # Written without saying with whom they may be shared: they stay within the team.
    plan.set_goal("g3", "Keep taking my methadone and stay off heroin", None, "clinical_care", [], provenance)
    plan.set_goal("g4", "Stop drinking", None, None, [], provenance)
    plan.add_support("sup2", "clinical_care", "Methadone clinic, daily dosing", "Opioid treatment program",
                     provenance)
    safety = SafetyPlan(person, provenance)
    safety.revise({"people_to_ask_for_help": ["Aunt Rosa"]}, 0, NOW, provenance)

    def grant(directive_id, recipient, categories, starts=NOW - timedelta(days=1), expires=None):
        timeline.note_consent(ref(), "consent", NOW, directive_id, recipient[0], recipient[1], categories, starts,
                              expires)

    def revoke(directive_id, at):
        timeline.note_consent_revoked(ref(), "revoked", NOW, directive_id, at)

    def seen_by(recipient, at=NOW):
        return shared_record(timeline, plan, safety.current, date(2027, 1, 30), recipient[0], recipient[1], at)

    grant.plan = plan
    return grant, revoke, seen_by


def test_without_a_directive_nothing_is_shared(record):
    _, _, seen_by = record
    assert seen_by(AUNT) is None


def test_general_and_crisis_consent_shares_the_plan_and_safety_plan_but_never_substance_use(record):
    grant, _, seen_by = record
    grant("d1", AUNT, ["general", "crisis"])
    shared = seen_by(AUNT)
    assert shared.categories == {"general", "crisis"}
    assert shared.preferred_name == "Luz"
    assert [g.goal_id for g in shared.goals] == ["g1"]  # substance use and unmarked goals stay hidden
    assert shared.supports == ()
    assert [r.domain for r in shared.screening_results] == ["suicide_risk"]
    assert shared.safety_plan.sections["people_to_ask_for_help"] == ("Aunt Rosa",)
    assert [c.contact_id for c in shared.crisis_contacts] == ["c1"]


def test_substance_use_is_shared_only_when_named(record):
    grant, _, seen_by = record
    grant("d1", AUNT, ["general", "mental_health", "crisis"])
    assert "substance_use" not in {r.domain for r in seen_by(AUNT).screening_results}
    grant("d2", AUNT, ["substance_use"])
    shared = seen_by(AUNT)
    assert {r.domain for r in shared.screening_results} == {"mental_health", "substance_use", "suicide_risk"}
    assert [g.goal_id for g in shared.goals] == ["g1", "g2"]
    assert [s.support_id for s in shared.supports] == ["sup1"]


def test_a_directive_for_someone_else_shares_nothing_with_you(record):
    grant, _, seen_by = record
    grant("d1", ("named_person", "brother-tomas"), ["general"])
    grant("d2", ("outside_agency", "county-probation"), ["crisis"])
    assert seen_by(AUNT) is None
    assert seen_by(("outside_agency", "county-probation")).categories == {"crisis"}
    assert seen_by(("outside_agency", "other-agency")) is None


def test_revocation_and_expiry_end_sharing_from_that_moment(record):
    grant, revoke, seen_by = record
    grant("d1", AUNT, ["general"], expires=NOW + timedelta(days=30))
    assert seen_by(AUNT, NOW + timedelta(days=29)) is not None
    assert seen_by(AUNT, NOW + timedelta(days=30)) is None
    revoke("d1", NOW + timedelta(hours=1))
    assert seen_by(AUNT, NOW) is not None
    assert seen_by(AUNT, NOW + timedelta(hours=1)) is None


def test_a_directive_that_has_not_started_shares_nothing_yet(record):
    grant, _, seen_by = record
    grant("d1", AUNT, ["general"], starts=NOW + timedelta(days=2))
    assert seen_by(AUNT) is None


def test_free_text_is_shared_only_in_the_category_it_was_marked_with_never_by_guessing(record, provenance):
    grant, _, seen_by = record
    grant("d1", AUNT, ["general", "mental_health", "substance_use", "crisis"])
    shared = seen_by(AUNT)
    assert [g.goal_id for g in shared.goals] == ["g1", "g2"]  # not the methadone goal, not "stop drinking"
    assert [s.support_id for s in shared.supports] == ["sup1"]


def test_the_person_marks_later_what_may_be_shared_and_may_take_it_back(record, provenance):
    grant, _, seen_by = record
    plan = grant.plan
    grant("d1", AUNT, ["general", "crisis"])
    with pytest.raises(NotThePersonsChoice):  # the team wrote it, but sharing it is the person's choice
        plan.mark_goal_sharing("g4", "general", provenance)
    provenance = by_the_person(provenance)
    assert plan.mark_goal_sharing("g4", "substance_use", provenance) is True
    assert "g4" not in [g.goal_id for g in seen_by(AUNT).goals]  # marked, but not a category shared with her
    plan.mark_goal_sharing("g4", "general", provenance)
    plan.mark_support_sharing("sup2", "general", provenance)
    shared = seen_by(AUNT)
    assert [g.goal_id for g in shared.goals] == ["g1", "g4"]
    assert [s.support_id for s in shared.supports] == ["sup2"]
    assert plan.mark_goal_sharing("g4", "general", provenance) is False  # unchanged
    plan.mark_goal_sharing("g1", None, provenance)  # back to the team only
    assert [g.goal_id for g in seen_by(AUNT).goals] == ["g4"]


def test_a_sharing_category_must_be_a_consent_category(provenance):
    plan = CarePlan(uuid4(), date(2026, 11, 1), provenance)
    with pytest.raises(InvalidPlanChange) as refused:
        plan.set_goal("g1", "Sleep", None, None, [], provenance, sharing_category="family")
    assert refused.value.field == "sharing_category"
    plan.set_goal("g1", "Sleep", None, None, [], provenance)
    with pytest.raises(InvalidPlanChange) as refused:
        plan.mark_goal_sharing("g1", "everyone", by_the_person(provenance))
    assert refused.value.field == "sharing_category"
    with pytest.raises(InvalidPlanChange) as refused:
        plan.mark_support_sharing("no-such-support", "general", by_the_person(provenance))
    assert refused.value.field == "support_id"


def test_goals_and_supports_stored_before_sharing_categories_load_unmarked(provenance):
    application = CareplanApplication(env=IN_MEMORY)
    person = uuid4()
    plan_id, whose = CarePlan.create_id(person), {"person_id": person, "provenance": provenance}
    store_as_recorded(application, plan_id, [  # as recorded before the attribute existed
        ("services.careplan.domain.plan:CarePlan.Started",
         {"originator_topic": "services.careplan.domain.plan:CarePlan", **whose, "started_on": date(2026, 11, 1)}),
        ("services.careplan.domain.plan:CarePlan.GoalSet",
         {**whose, "goal_id": "g1", "in_own_words": "Go back to choir", "team_restatement": None,
          "life_domain": "family", "indicators": []}),
        ("services.careplan.domain.plan:CarePlan.SupportAdded",
         {**whose, "support_id": "s1", "life_domain": "family", "description": "Sunday calls",
          "provided_by": "Aunt Rosa"}),
    ])
    loaded = application.read(plan_id)
    assert loaded.goals["g1"].sharing_category is None
    assert loaded.supports["s1"].sharing_category is None


def test_goals_marked_for_mental_health_or_crisis_are_shared_with_those_categories_alone(record, provenance):
    grant, _, seen_by = record
    grant.plan.mark_goal_sharing("g3", "crisis", by_the_person(provenance))
    grant("d1", AUNT, ["crisis"])
    assert [g.goal_id for g in seen_by(AUNT).goals] == ["g3"]


def by_the_person(provenance: Provenance) -> Provenance:
    return replace(provenance, actor_id="person-self", actor_role="person")
