"""Who each notification is for, resolved with the team as it is at delivery."""

import pytest

from services.notifications.domain.routing import Audience, UnknownAudience, recipients
from services.notifications.translation import notice_for
from shared.contracts.careplan import MedicationNoteAddedV1, PlanChangedV1
from shared.contracts.intake import ScreeningCompletedV1, UrgentScreeningResultV1

TEAM = {"casey": "care_coordinator", "kim": "clinician", "dr-n": "prescriber", "np-lee": "nurse_practitioner",
        "sam": "supervisor", "pat": "peer_specialist", "mum": "family_or_natural_support"}


@pytest.mark.parametrize("audience, expected", [
    (Audience.CARE_TEAM, {"casey", "kim", "dr-n", "np-lee", "sam", "pat"}),  # staff: family hear by consent, in careplan
    (Audience.COORDINATOR, {"casey"}),
    (Audience.COORDINATOR_AND_PLAN_MEMBERS, {"casey", "pat"}),  # pat is named; mum and gone are not on the staff
    (Audience.PRESCRIBERS, {"dr-n", "np-lee"}),
    (Audience.SUPERVISORS, {"sam", "avery"}),
])
def test_each_audience_is_the_members_in_its_roles_now(audience, expected):
    assert recipients(audience, TEAM, named=("pat", "mum", "gone"), agency_supervisors=("avery",)) == expected


def test_the_team_at_delivery_decides_and_an_agency_may_add_prescribing_roles():
    assert recipients("coordinator", {"kim": "clinician"}) == frozenset()  # nobody to tell: delivery decides
    later = {**TEAM, "casey": "clinician", "alex": "care_coordinator"}
    assert recipients("coordinator", later) == {"alex"}
    assert recipients("prescribers", {"rx": "clinical_pharmacist"},
                      prescribing_roles=frozenset({"clinical_pharmacist"})) == {"rx"}
    with pytest.raises(UnknownAudience):
        recipients("everyone", TEAM)


def test_the_issue_s_routing_crises_to_the_team_results_to_the_coordinator_medication_to_prescribers():
    urgent = notice_for(UrgentScreeningResultV1(screening_id="00000000-0000-0000-0000-000000000001",
                                                instrument="C-SSRS", flags=["high_risk"]))
    positive = notice_for(ScreeningCompletedV1.model_construct(
        instrument="PHQ-9", domain="mental_health", positive=True, band="moderate", flags=[]))
    question = notice_for(MedicationNoteAddedV1(note_id="n", kind="question_for_prescriber", choice=None,
                                                for_prescriber=True))
    assert (urgent.audience, urgent.urgent) == ("care_team", True)
    assert (positive.audience, positive.urgent) == ("coordinator_and_plan_members", False)
    assert (question.audience, question.urgent) == ("prescribers", False)


def test_a_plan_change_goes_to_the_coordinator_and_the_members_it_names_within_the_team_only():
    notice = notice_for(PlanChangedV1(change="support_added", item_id="s-1", named_members=["pat", "gone"]))
    assert (notice.kind, notice.urgent, notice.audience, notice.category) == (
        "plan_changed", False, "coordinator_and_plan_members", "team_only")  # a plan can hold substance-use goals
    assert notice.named == ("pat", "gone")
    assert recipients(notice.audience, TEAM, notice.named) == {"casey", "pat"}
    assert "s-1" not in notice.message and "support was added" in notice.message
    unknown = notice_for(PlanChangedV1(change="a_kind_added_later"))
    assert (unknown.kind, unknown.named) == ("plan_changed", ())
