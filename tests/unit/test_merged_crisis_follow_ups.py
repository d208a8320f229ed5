"""After a merge, the duplicate's open crisis follow-up is the survivor's too: listed with its
record at the survivor, acknowledgeable there by the survivor's (union) team, and its escalation
sent to the survivor's team's coordinator; it stays on the duplicate's record, where its timer
runs. After the undo it is the duplicate's alone again. Applications in memory and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from services.notifications.application import person_facts
from services.notifications.domain.subscriptions import Owner, owner_refusal
from shared.contracts.careplan import TeamMemberJoinedV1
from shared.contracts.intake import (
    CrisisContactRecordedV1, PersonMergedIntoV1, PersonMergeUndoneV1, PersonRegisteredV1)
from tests.unit.test_merges_downstream import NOON, Intake, Notifications

DUE = NOON + timedelta(days=1)


def _escalation_refusal(app, person_id, member: str, role: str) -> str | None:  # noqa: ANN001
    """Whether `member`'s own subscription is sent the escalation to the coordinator (None: it is)."""
    notice = next(n for n in app.due_notifications(person_id) if n.kind == "crisis_follow_up_escalated_to_coordinator")
    team, consents, programs = app.as_one_person(person_facts(app.follower(person_id)))
    return owner_refusal(Owner(member, role), notice.category, notice.audience, notice.named, team, consents, DUE,
                         (), programs)


def test_the_duplicates_follow_up_is_read_acknowledged_and_escalated_as_the_survivors(notifications):
    n = Notifications(notifications)
    survivor, duplicate = uuid4(), uuid4()
    for person in (survivor, duplicate):
        n.apply(person, PersonRegisteredV1(agency="a", agency_person_id=str(person), preferred_name="Noor"))
    n.apply(survivor, TeamMemberJoinedV1(member_id="alex", role="care_coordinator"), "careplan.care_team")
    n.apply(duplicate, TeamMemberJoinedV1(member_id="robin", role="clinician"), "careplan.care_team")
    contact = uuid4()
    n.apply(duplicate, CrisisContactRecordedV1(
        contact_id=contact, kind="hospital_discharge", occurred_at=NOON, location="County hospital",
        responders=["inpatient unit"], what_helped="A ride home", outcome="voluntary_hospitalization",
        follow_up_due=DUE))
    assert notifications.crisis_follow_ups_of_person(survivor) == []

    n.apply(survivor, Intake.merged(duplicate))
    n.apply(survivor, TeamMemberJoinedV1(member_id="robin", role="clinician", joined_through_merge_of=duplicate),
            "careplan.care_team")
    n.apply(duplicate, PersonMergedIntoV1(survivor_id=survivor))

    listed = notifications.crisis_follow_ups_of_person(survivor)
    assert [(record, f.contact_id, f.status) for record, f in listed] == [(duplicate, str(contact), "open")]
    assert notifications.follow_up_holder(survivor, str(contact)) == duplicate
    assert "alex" in notifications.acknowledgement_context(survivor, str(contact), "alex", duplicate).team

    # Overdue: the escalation is recorded on the duplicate's record and goes to the survivor's coordinator.
    notifications.take_due_follow_up_steps(duplicate, DUE + timedelta(hours=2))
    assert _escalation_refusal(notifications, duplicate, "alex", "care_coordinator") is None
    assert _escalation_refusal(notifications, duplicate, "robin", "clinician") is not None, "for the coordinator"

    assert notifications.acknowledge_crisis_follow_up(duplicate, str(contact), "alex", "care_coordinator", DUE)
    assert [f.status for _, f in notifications.crisis_follow_ups_of_person(survivor)] == ["acknowledged"]

    undone = PersonMergeUndoneV1(merge_id=uuid4(), survivor_id=survivor, duplicate_id=duplicate)
    n.apply(survivor, undone)
    n.apply(duplicate, undone)
    assert notifications.crisis_follow_ups_of_person(survivor) == []
    assert notifications.follow_up_holder(survivor, str(contact)) == survivor
    assert [record for record, _ in notifications.crisis_follow_ups_of_person(duplicate)] == [duplicate]
