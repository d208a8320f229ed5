"""Crisis follow-ups in the notifications application (in memory): each step once, at its time,
with the notification it makes due; acknowledgement stops it; careplan's record closes it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from uuid import UUID, uuid4

import pytest

from services.notifications.application import NotificationsApplication
from services.notifications.domain.follow_ups import AlreadyFollowedUp, EscalationPolicy, NotAFollowUp, Step
from shared.following import UpstreamChange
from tests.unit.conftest import IN_MEMORY
from tests.unit.test_following import NOW, upstream

DUE = NOW + timedelta(days=1)
POLICY = EscalationPolicy(overdue_after=timedelta(hours=2), supervisors_after=timedelta(hours=4))


@pytest.fixture
def application() -> Iterator[NotificationsApplication]:
    in_memory = NotificationsApplication(env=IN_MEMORY, escalation_policy=POLICY, agency_supervisors=["avery"])
    yield in_memory
    in_memory.close()


def expect(application: NotificationsApplication, person: UUID, sequence: int, contact_id: str) -> None:
    cause = upstream(person, sequence)
    application.apply_change(UpstreamChange(cause, lambda p: (
        p.nothing_to_notify(cause), p.crisis_follow_up_expected(contact_id, "hospital_discharge", DUE))))


def steps(application: NotificationsApplication, person: UUID, contact_id: str) -> list[str]:
    found = {f.contact_id: f for f in application.crisis_follow_ups(person) or []}
    return list(found[contact_id].steps) if contact_id in found else []


def test_each_step_is_taken_once_at_its_time_with_an_urgent_notice_for_its_audience(application):
    person = uuid4()
    expect(application, person, 1, "c-1")

    assert application.take_due_follow_up_steps(person, DUE - timedelta(seconds=1)) == []
    assert application.take_due_follow_up_steps(person, DUE) == [("c-1", Step.REMINDER)]
    assert application.take_due_follow_up_steps(person, DUE) == []  # a repeated pass takes nothing
    coordinator_at = DUE + POLICY.overdue_after
    assert application.take_due_follow_up_steps(person, coordinator_at - timedelta(seconds=1)) == []
    assert application.take_due_follow_up_steps(person, coordinator_at) == [("c-1", Step.ESCALATED_TO_COORDINATOR)]
    supervisors_at = coordinator_at + POLICY.supervisors_after
    assert application.take_due_follow_up_steps(person, supervisors_at) == [("c-1", Step.ESCALATED_TO_SUPERVISORS)]
    assert application.take_due_follow_up_steps(person, supervisors_at + timedelta(days=30)) == []

    due = application.due_notifications(person)
    assert [(n.kind, n.audience, n.urgent, n.due_at) for n in due] == [
        ("crisis_follow_up_reminder", "care_team", False, DUE),
        ("crisis_follow_up_escalated_to_coordinator", "coordinator", True, coordinator_at),
        ("crisis_follow_up_escalated_to_supervisors", "supervisors", True, supervisors_at),
    ]
    assert len({n.notification_id for n in due}) == 3
    assert all("County" not in n.message and "hospital discharge" in n.message for n in due)  # kinds, no words
    # The timer's table is rewritten from this: nothing more will happen by itself.
    assert application.follow_up_schedules([person]) == {person: {}}


def test_a_restart_that_missed_the_due_times_takes_what_is_due_in_order(application):
    person = uuid4()
    expect(application, person, 1, "c-1")
    late = DUE + timedelta(hours=3)
    assert application.take_due_follow_up_steps(person, late) == [
        ("c-1", Step.REMINDER), ("c-1", Step.ESCALATED_TO_COORDINATOR)]
    # The supervisors' interval runs from the coordinator's escalation, not from the missed due time.
    assert application.follow_up_schedules([person]) == {person: {"c-1": late + POLICY.supervisors_after}}


def test_an_acknowledgement_stops_the_escalation_and_the_first_one_stands(application):
    person = uuid4()
    expect(application, person, 1, "c-1")
    application.take_due_follow_up_steps(person, DUE)

    assert application.acknowledge_crisis_follow_up(person, "c-1", "kim", "clinician", DUE) is True
    assert application.acknowledge_crisis_follow_up(person, "c-1", "casey", "care_coordinator", DUE) is False
    assert application.take_due_follow_up_steps(person, DUE + timedelta(days=3)) == []
    [follow_up] = application.crisis_follow_ups(person)
    assert (follow_up.status, follow_up.acknowledged_by) == ("acknowledged", "kim")
    with pytest.raises(NotAFollowUp):
        application.acknowledge_crisis_follow_up(person, "no-such-contact", "kim", "clinician", DUE)
    with pytest.raises(NotAFollowUp):
        application.acknowledge_crisis_follow_up(uuid4(), "c-1", "kim", "clinician", DUE)


def test_careplan_s_record_closes_it_even_when_it_arrives_before_intake_s_contact(application):
    person = uuid4()
    recorded = upstream(person, 1)
    recorded = type(recorded)(**{**recorded.as_dict(), "source": "careplan", "stream": "careplan.crisis_follow_ups"})
    application.apply_change(UpstreamChange(recorded, lambda p: (
        p.nothing_to_notify(recorded), p.crisis_follow_up_recorded("c-1", date(2026, 11, 24)))))
    expect(application, person, 1, "c-1")

    assert application.take_due_follow_up_steps(person, DUE + timedelta(days=3)) == []
    [follow_up] = application.crisis_follow_ups(person)
    assert (follow_up.status, follow_up.followed_up_on) == ("followed_up", date(2026, 11, 24))
    with pytest.raises(AlreadyFollowedUp):
        application.acknowledge_crisis_follow_up(person, "c-1", "kim", "clinician", DUE)


def test_agency_supervisors_may_acknowledge_once_it_has_escalated_to_them(application):
    person = uuid4()
    expect(application, person, 1, "c-1")
    assert "avery" not in application.acknowledgement_context(person, "c-1", "avery").team
    application.take_due_follow_up_steps(person, DUE + timedelta(days=1))  # to the coordinator
    assert "avery" not in application.acknowledgement_context(person, "c-1", "avery").team
    application.take_due_follow_up_steps(person, DUE + timedelta(days=2))  # to the supervisors
    assert "avery" in application.acknowledgement_context(person, "c-1", "avery").team
    assert "robin" not in application.acknowledgement_context(person, "c-1", "robin").team


def test_notifications_stored_before_audiences_could_name_members_still_read(application):
    person = uuid4()
    cause = upstream(person, 1)
    application.apply_change(application.team_notice(cause, "crisis", "Urgent", NOW, True))
    # What was stored before `category` and `named` existed: the same event without them.
    [created, due] = application.recorder.select_events(person)
    state = json.loads(application.mapper.cipher.decrypt(due.state) if application.mapper.cipher else due.state)
    for added in ("category", "named"):
        state.pop(added)
    old = type(due)(due.originator_id, due.originator_version, due.topic, json.dumps(state).encode())
    replayed = application.mapper.to_domain_event(created).mutate(None)
    application.mapper.to_domain_event(old).mutate(replayed)
    assert (replayed.due[0].notification_id, replayed.due[0].category, replayed.due[0].named) == (
        cause.event_id, "team_only", ())
