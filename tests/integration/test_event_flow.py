"""A screening recorded at intake reaches careplan and notifications through the broker."""

from __future__ import annotations

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
            json={"instrument": "PHQ-9", "answers": {"item1": 2, "item2": 1, "item9": "declined"}},
            headers={"X-Correlation-Id": "corr-flow-1"},
        )
        assert response.status_code == 201, response.text

        entries = await eventually(lambda: _when_len(timeline_of(c, person_id), 2), what="careplan timeline")
        assert [(e["sequence"], e["kind"]) for e in entries] == [(1, "person_registered"), (2, "screening_recorded")]
        assert entries[1]["summary"] == "PHQ-9 screening: 2 answered, 1 declined"

        async def due():
            r = await n.get(f"/people/{person_id}/notifications")
            return r.json()["due"] if r.status_code == 200 and len(r.json()["due"]) == 2 else None

        notices = await eventually(due, what="notifications due")
        assert [d["kind"] for d in notices] == ["person_registered", "screening_recorded"]

    published = [envelope(m) for m in await eventually(lambda: _when_len(system.drain(tap), 2), what="tap")]
    screening = published[1]
    assert screening["type"] == "carecoord.intake.screening_recorded"
    assert screening["version"] == 1
    assert screening["source"] == "intake"
    assert screening["person_id"] == person_id
    assert screening["person_sequence"] == 2
    assert screening["correlation_id"] == "corr-flow-1"
    assert screening["payload"]["answers"] == {"item1": 2, "item2": 1, "item9": "declined"}


async def _when_len(awaitable, n):
    items = await awaitable
    return items if len(items) >= n else None
