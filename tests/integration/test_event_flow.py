"""A screening recorded at intake reaches careplan and notifications through the broker."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.support.polling import eventually
from tests.support.system import TEST_AGENCY, System, envelope


async def register(intake_client, agency_person_id: str = "p-1") -> str:
    response = await intake_client.post(
        "/people", json={"agency": TEST_AGENCY, "agency_person_id": agency_person_id, "preferred_name": "Sam"}
    )
    assert response.status_code == 201, response.text
    return response.json()["person_id"]


async def timeline_of(client, person_id: str) -> list[dict]:
    response = await client.get(f"/people/{person_id}/timeline")
    return response.json()["entries"] if response.status_code == 200 else []


PHQ9_WITH_SUICIDE_RISK = {"item1": 2, "item2": 2, "item3": 1, "item4": 2, "item5": 1, "item6": 1, "item7": 1,
                          "item8": 0, "item9": 1}


async def test_a_screening_recorded_at_intake_appears_in_careplan_and_notifications(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications")
    tap = await system.tap()

    async with (system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c,
                system.client(notifications, "auditor") as n):
        person_id = await register(i)
        response = await i.post(
            f"/people/{person_id}/screenings",
            json={"instrument": "PHQ-9", "answers": PHQ9_WITH_SUICIDE_RISK},
            headers={"X-Correlation-Id": "corr-flow-1"},
        )
        assert response.status_code == 201, response.text
        result = response.json()["result"]
        assert (result["total"], result["band"], result["positive"], result["urgent"]) == (11, "moderate", True, True)
        assert result["flags"] == ["suicide_risk"]

        entries = await eventually(lambda: _when_len(timeline_of(c, person_id), 3), what="careplan timeline")
        assert [(e["sequence"], e["kind"]) for e in entries] == [
            (1, "person_registered"), (2, "screening_scored"), (3, "urgent_screening_result"),
        ]
        assert entries[1]["summary"] == "PHQ-9; moderate; total 11; positive; flags: suicide_risk; 9 answered, 0 declined"

        async def due():
            r = await n.get(f"/people/{person_id}/notifications")
            return r.json()["due"] if r.status_code == 200 and len(r.json()["due"]) == 3 else None

        notices = await eventually(due, what="notifications due")
        assert [(d["kind"], d["urgent"]) for d in notices] == [
            ("person_registered", False), ("screening_positive", False), ("crisis", True),
        ]

    published = [envelope(m) for m in await system.collect(tap, 3, what="tap")]
    assert [p["type"].rsplit(".", 1)[1] for p in published] == [
        "person_registered", "screening_completed", "urgent_screening_result"]
    screening = published[1]
    assert screening["type"] == "carecoord.intake.screening_completed"
    assert screening["version"] == 1
    assert screening["source"] == "intake"
    assert screening["person_id"] == person_id
    assert screening["person_sequence"] == 2
    assert screening["correlation_id"] == "corr-flow-1"
    assert screening["payload"]["answers"] == PHQ9_WITH_SUICIDE_RISK
    assert screening["payload"]["total"] == 11 and published[2]["payload"]["flags"] == ["suicide_risk"]
    assert {p["correlation_id"] for p in published[1:]} == {"corr-flow-1"}


async def _when_len(awaitable, n):
    items = await awaitable
    return items if len(items) >= n else None


async def test_a_crisis_contact_makes_an_urgent_follow_up_due_to_the_team(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications")
    async with (system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c,
                system.client(notifications, "auditor") as n):
        person_id = await register(i, "crisis-1")
        # A discharge of yesterday: its follow-up is due in six days, so no reminder or escalation
        # of the follow-up timer joins the notices counted here.
        discharged = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
        follow_up_due = discharged + timedelta(days=7)
        contact = {
            "kind": "hospital_discharge", "occurred_at": discharged.isoformat(), "location": "County General",
            "responders": ["discharge nurse"], "what_helped": "sister came along", "outcome": "voluntary_hospitalization",
        }
        response = await i.post(f"/people/{person_id}/crisis-contacts", headers={"Idempotency-Key": "call-1"},
                                json=contact)
        assert response.status_code == 201, response.text
        assert response.json()["follow_up_due"] == follow_up_due.isoformat().replace("+00:00", "Z")
        again = await i.post(f"/people/{person_id}/crisis-contacts", headers={"Idempotency-Key": "call-1"},
                             json=contact)
        assert again.status_code == 200 and again.json()["contact_id"] == response.json()["contact_id"]

        entries = await eventually(lambda: _when_len(timeline_of(c, person_id), 2), what="crisis on the timeline")
        assert entries[1]["kind"] == "crisis_contact"
        assert f"follow-up due {follow_up_due.isoformat()}" in entries[1]["summary"]

        async def due():
            r = await n.get(f"/people/{person_id}/notifications")
            return r.json()["due"] if r.status_code == 200 and len(r.json()["due"]) == 2 else None

        notices = await eventually(due, what="the follow-up notice")
        assert (notices[1]["kind"], notices[1]["urgent"]) == ("crisis_follow_up", True)

        naive = await i.post(f"/people/{person_id}/crisis-contacts", json={
            "kind": "crisis_line_call", "occurred_at": "2026-11-20T16:00:00", "location": "", "responders": [],
            "outcome": "unknown"})
        assert naive.status_code == 422 and naive.json()["detail"][0]["loc"] == ["body", "occurred_at"]
