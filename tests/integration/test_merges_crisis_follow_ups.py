"""After a merge at intake, an open crisis follow-up of the duplicate is the survivor's too, on the
three services with a clock the test moves: listed at either id with its record, reminded in the
survivor's due list, acknowledged at the survivor's id by a member of the survivor's own team (the
union team), on the duplicate's record where its timer runs; after the undo it is the duplicate's alone again."""

from __future__ import annotations

from datetime import timedelta

from tests.integration.test_crisis_follow_up_escalation import START, start_notifications
from tests.integration.test_merging import COORDINATOR, _on_teams, _register
from tests.support.clock import FakeClock
from tests.support.polling import eventually
from tests.support.system import TEST_AGENCY, System, bearer

SOUTH = "south-clinic"
NORTH_AGENCY, SOUTH_AGENCY = bearer("agency_system"), bearer("agency_system", agency=SOUTH)
DANA = bearer("clinician", "dana")  # on the survivor's team only
ALEX = bearer("care_coordinator", COORDINATOR)  # on both


async def _follow_ups(n, person_id: str, reader: dict[str, str]) -> dict | None:  # noqa: ANN001
    response = await n.get(f"/people/{person_id}/crisis-follow-ups", headers=reader)
    return response.json() if response.status_code == 200 else None


async def test_a_duplicates_open_follow_up_is_read_and_acknowledged_at_the_survivor_by_the_union_team(system: System):
    clock = FakeClock(START.timestamp())
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await start_notifications(system, clock)
    async with system.client(intake) as i:
        survivor = await _register(i, NORTH_AGENCY, TEST_AGENCY, "N-crisis")
        duplicate = await _register(i, SOUTH_AGENCY, SOUTH, "S-crisis")
    await _on_teams(system, intake, careplan, COORDINATOR, "care_coordinator", survivor, duplicate)
    await _on_teams(system, intake, careplan, "dana", "clinician", survivor)
    due = START + timedelta(days=1)
    async with system.client(intake) as i:
        crisis = await i.post(f"/people/{duplicate}/crisis-contacts", headers=SOUTH_AGENCY, json={
            "kind": "hospital_discharge", "occurred_at": (due - timedelta(days=7)).isoformat(),
            "location": "County hospital", "responders": ["inpatient unit"], "outcome": "voluntary_hospitalization",
            "follow_up_due": due.isoformat()})
        assert crisis.status_code == 201, crisis.text
        contact_id = crisis.json()["contact_id"]

    async with system.client(notifications) as n:
        async def expected():
            found = await _follow_ups(n, duplicate, ALEX)
            return found if found and found["follow_ups"] else None
        await eventually(expected, what="the duplicate's follow-up expected")
        assert await _follow_ups(n, survivor, DANA) == {"person_id": survivor, "follow_ups": []}, "not merged yet"
        refused = await n.post(f"/people/{duplicate}/crisis-follow-ups/{contact_id}/acknowledgements", headers=DANA)
        assert refused.status_code == 404, "dana is not on the duplicate's team"

    async with system.client(intake, "care_coordinator", COORDINATOR) as alex:
        merged = await alex.post(f"/people/{survivor}/merges", json={"duplicate_id": duplicate, "reason": "same phone"})
        assert merged.status_code == 201, merged.text

    async with system.client(notifications) as n:
        async def followed():
            found = await _follow_ups(n, duplicate, DANA)
            return found if found and found["person_id"] == survivor else None
        by_duplicate_id = await eventually(followed, what="the merge followed at notifications")
        assert [(f["contact_id"], f["record_id"], f["status"]) for f in by_duplicate_id["follow_ups"]] == [
            (contact_id, duplicate, "open")]
        assert await _follow_ups(n, survivor, DANA) == by_duplicate_id

        clock.now = due.timestamp()  # the reminder, taken on the duplicate's record, shows at the survivor's
        async def reminded():
            listed = (await n.get(f"/people/{survivor}/notifications", headers=DANA)).json()["due"]
            return [d["kind"] for d in listed if d["kind"].startswith("crisis_follow_up_")] or None
        assert await eventually(reminded, what="the reminder") == ["crisis_follow_up_reminder"]

        acknowledged = await n.post(f"/people/{survivor}/crisis-follow-ups/{contact_id}/acknowledgements",
                                    headers=DANA)
        assert acknowledged.status_code == 201, acknowledged.text
        body = acknowledged.json()
        assert (body["record_id"], body["status"], body["acknowledged_by"]) == (duplicate, "acknowledged", "dana")
        again = await n.post(f"/people/{duplicate}/crisis-follow-ups/{contact_id}/acknowledgements", headers=ALEX)
        assert again.status_code == 200 and again.json()["acknowledged_by"] == "dana", "the first one stands"

    async with system.client(intake, "care_coordinator", COORDINATOR) as alex:
        undone = await alex.post(f"/people/{survivor}/merges/{merged.json()['merge_id']}/undo",
                                 json={"reason": "different birth dates"})
        assert undone.status_code == 201, undone.text
    async with system.client(notifications) as n:
        async def split():
            found = await _follow_ups(n, survivor, DANA)
            return found if found and found["follow_ups"] == [] else None
        await eventually(split, what="the undo followed at notifications")
        own = (await _follow_ups(n, duplicate, ALEX))
        assert own["person_id"] == duplicate
        assert [(f["record_id"], f["acknowledged_by"]) for f in own["follow_ups"]] == [(duplicate, "dana")]
        gone = await n.post(f"/people/{survivor}/crisis-follow-ups/{contact_id}/acknowledgements", headers=DANA)
        assert gone.status_code == 404

