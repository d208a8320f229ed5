"""A crisis contact's follow-up, on the three services with a clock the test moves: a reminder when
due, then urgent escalations to the care coordinator and to the supervisors while nobody records
or acknowledges it; an acknowledgement stops it; careplan's record of the follow-up closes it; and
the timer picks up where it was after a restart, taking no step twice."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import httpx

from services.notifications.bootstrap import create_service as create_notifications
from shared.runtime import Service
from tests.integration.test_event_flow import register
from tests.support.clock import FakeClock
from tests.support.polling import eventually
from tests.support.system import System, bearer
from tests.support.teams import join_team

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
COORDINATOR = bearer("care_coordinator", "casey-coordinator")
CLINICIAN = bearer("clinician", "kim-clinician")
SUPERVISOR = bearer("supervisor", "sam-supervisor")
OVERDUE_AFTER, SUPERVISORS_AFTER = timedelta(hours=2), timedelta(hours=4)


async def start_notifications(system: System, clock: FakeClock) -> Service:
    """Notifications on the test's clock (System.start builds it with the real one)."""
    for name in ("intake", "careplan", "notifications"):
        await system.service_amqp_url(name)
    settings = system.settings("notifications", crisis_follow_up_overdue_after=OVERDUE_AFTER,
                               crisis_follow_up_supervisors_after=SUPERVISORS_AFTER,
                               follow_up_timer_poll_seconds=0.1, agency_supervisors=("avery-agency-supervisor",))
    service = await asyncio.to_thread(create_notifications, settings, clock)
    await service.start()
    system.services.append(service)
    await asyncio.wait_for(service.broker_ready.wait(), timeout=20)
    return service


async def record_crisis(i: httpx.AsyncClient, person_id: str, due: datetime) -> str:
    crisis = await i.post(f"/people/{person_id}/crisis-contacts", json={
        "kind": "hospital_discharge", "occurred_at": (due - timedelta(days=7)).isoformat(), "location": "County hospital",
        "responders": ["inpatient unit"], "what_helped": "A ride home", "outcome": "voluntary_hospitalization",
        "follow_up_due": due.isoformat()})
    assert crisis.status_code == 201, crisis.text
    return crisis.json()["contact_id"]


async def follow_up(n: httpx.AsyncClient, person_id: str, contact_id: str) -> dict | None:
    response = await n.get(f"/people/{person_id}/crisis-follow-ups", headers=COORDINATOR)
    if response.status_code != 200:
        return None
    return next((f for f in response.json()["follow_ups"] if f["contact_id"] == contact_id), None)


async def notices(n: httpx.AsyncClient, person_id: str) -> list[tuple[str, str, bool]]:
    """The follow-up steps' notices (kind, audience, urgent), in the order they became due."""
    due = (await n.get(f"/people/{person_id}/notifications", headers=COORDINATOR)).json()["due"]
    return [(d["kind"], d["audience"], d["urgent"]) for d in due if d["kind"].startswith("crisis_follow_up_")]


async def steps_of(n: httpx.AsyncClient, person_id: str, contact_id: str) -> list[str]:
    found = await follow_up(n, person_id, contact_id)
    return sorted(found["steps"], key=found["steps"].get) if found else []


async def wait_for_steps(n, person_id, contact_id, expected: list[str]) -> None:
    async def reached():
        return await steps_of(n, person_id, contact_id) == expected
    await eventually(reached, what=f"steps {expected}")


async def test_an_overdue_follow_up_escalates_to_the_coordinator_then_the_supervisors_across_a_restart(system: System):
    clock = FakeClock(START.timestamp())
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await start_notifications(system, clock)
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await register(i, "escalation-1")
        for member, role in (("casey-coordinator", "care_coordinator"), ("kim-clinician", "clinician"),
                             ("sam-supervisor", "supervisor")):
            assert (await join_team(c, person_id, member, role, SUPERVISOR)).status_code == 201
        due = START + timedelta(days=1)
        contact_id = await record_crisis(i, person_id, due)

        async with system.client(notifications) as n:
            opened = await eventually(lambda: follow_up(n, person_id, contact_id), what="the follow-up to be expected")
            assert (opened["status"], datetime.fromisoformat(opened["due_at"]), opened["steps"]) == ("open", due, {})

            clock.now = due.timestamp()
            await wait_for_steps(n, person_id, contact_id, ["reminder"])
            clock.now = (due + OVERDUE_AFTER).timestamp()
            await wait_for_steps(n, person_id, contact_id, ["reminder", "escalated_to_coordinator"])

        # The timer stops with the service; its due times and steps are in the store.
        await system.stop(notifications)
        clock.now = (due + OVERDUE_AFTER + SUPERVISORS_AFTER).timestamp()
        notifications = await start_notifications(system, clock)
        async with system.client(notifications) as n:
            await wait_for_steps(n, person_id, contact_id, ["reminder", "escalated_to_coordinator",
                                                            "escalated_to_supervisors"])
            assert await notices(n, person_id) == [
                ("crisis_follow_up_reminder", "care_team", False),
                ("crisis_follow_up_escalated_to_coordinator", "coordinator", True),
                ("crisis_follow_up_escalated_to_supervisors", "supervisors", True),
            ]  # each step once, the restart redid nothing
            escalated = await follow_up(n, person_id, contact_id)
            assert escalated["status"] == "escalated"

            # Notified (an agency supervisor, not on the team), they acknowledge; outsiders cannot.
            path = f"/people/{person_id}/crisis-follow-ups/{contact_id}/acknowledgements"
            outsider = await n.post(path, headers=bearer("clinician", "someone-else"))
            auditor = await n.post(path, headers=bearer("auditor", "audrey"))
            acknowledged = await n.post(path, headers=bearer("supervisor", "avery-agency-supervisor"))
            again = await n.post(path, headers=SUPERVISOR)
            assert (outsider.status_code, auditor.status_code) == (404, 403)
            assert acknowledged.status_code == 201, acknowledged.text
            assert (acknowledged.json()["status"], acknowledged.json()["acknowledged_by"]) == (
                "acknowledged", "avery-agency-supervisor")
            assert again.status_code == 200 and again.json()["acknowledged_by"] == "avery-agency-supervisor"

            # Careplan's record of the follow-up closes it.
            recorded = await c.post(f"/people/{person_id}/plan/crisis-follow-ups", headers=CLINICIAN,
                                    json={"contact_id": contact_id})
            assert recorded.status_code == 201, recorded.text

            async def closed():
                found = await follow_up(n, person_id, contact_id)
                return found if found and found["status"] == "followed_up" else None
            assert (await eventually(closed, what="careplan's record to close it"))["followed_up_on"]
            late = await n.post(path, headers=CLINICIAN)
            assert late.status_code == 409


async def test_an_acknowledgement_stops_the_escalation_and_a_recorded_follow_up_stops_it_before_it_starts(
        system: System):
    clock = FakeClock(START.timestamp())
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await start_notifications(system, clock)
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c, \
            system.client(notifications) as n:
        person_id = await register(i, "escalation-2")
        for member, role in (("casey-coordinator", "care_coordinator"), ("kim-clinician", "clinician")):
            assert (await join_team(c, person_id, member, role, SUPERVISOR)).status_code == 201
        due = START + timedelta(days=1)
        acknowledged_id = await record_crisis(i, person_id, due)
        followed_id = await record_crisis(i, person_id, due + timedelta(minutes=5))
        for contact_id in (acknowledged_id, followed_id):
            await eventually(lambda: follow_up(n, person_id, contact_id), what="the follow-ups to be expected")

        clock.now = due.timestamp()
        await wait_for_steps(n, person_id, acknowledged_id, ["reminder"])
        path = f"/people/{person_id}/crisis-follow-ups/{acknowledged_id}/acknowledgements"
        assert (await n.post(path, headers=CLINICIAN)).status_code == 201

        async def known_to_careplan():
            response = await c.post(f"/people/{person_id}/plan/crisis-follow-ups", headers=CLINICIAN,
                                    json={"contact_id": followed_id})
            return response if response.status_code != 422 else None  # 422 until the contact reaches it
        recorded = await eventually(known_to_careplan, what="careplan to know the contact")
        assert recorded.status_code == 201, recorded.text

        async def closed():
            found = await follow_up(n, person_id, followed_id)
            return found["status"] == "followed_up" if found else False
        await eventually(closed, what="the follow-up closed by careplan's record")

        # A later follow-up, due too, shows the timer has passed over the other two with everything overdue.
        sentinel_id = await record_crisis(i, person_id, due + timedelta(hours=1))
        await eventually(lambda: follow_up(n, person_id, sentinel_id), what="the later follow-up to be expected")
        clock.now = (due + timedelta(days=2)).timestamp()
        await wait_for_steps(n, person_id, sentinel_id, ["reminder", "escalated_to_coordinator"])
        assert await steps_of(n, person_id, acknowledged_id) == ["reminder"]
        assert await steps_of(n, person_id, followed_id) == []
        assert (await follow_up(n, person_id, acknowledged_id))["status"] == "acknowledged"
