"""What family, natural supports and outside agencies see: only what consent directives in force
share with them, and substance use only when it is named."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from services.careplan.domain.plan import CarePlan
from services.careplan.domain.safety_plan import SafetyPlan
from services.careplan.domain.sharing import shared_record
from services.careplan.domain.timeline import Timeline
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
    plan.set_goal("g1", "Go back to choir", None, "family", [], provenance)
    plan.set_goal("g2", "Drink only at weekends", None, "harm_reduction", [], provenance)
    plan.add_support("sup1", "harm_reduction", "Naloxone kit", "Syringe services", provenance)
    safety = SafetyPlan(person, provenance)
    safety.revise({"people_to_ask_for_help": ["Aunt Rosa"]}, 0, NOW, provenance)

    def grant(directive_id, recipient, categories, starts=NOW - timedelta(days=1), expires=None):
        timeline.note_consent(ref(), "consent", NOW, directive_id, recipient[0], recipient[1], categories, starts,
                              expires)

    def revoke(directive_id, at):
        timeline.note_consent_revoked(ref(), "revoked", NOW, directive_id, at)

    def seen_by(recipient, at=NOW):
        return shared_record(timeline, plan, safety.current, date(2027, 1, 30), recipient[0], recipient[1], at)

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
    assert [g.goal_id for g in shared.goals] == ["g1"]  # the harm-reduction goal stays hidden
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
