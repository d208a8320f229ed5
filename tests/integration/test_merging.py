"""Merging duplicates registered by two agencies, over HTTP and AMQP: both histories kept, both published."""

from __future__ import annotations

import json
import uuid

from tests.integration.test_agency_commands_amqp import send
from tests.integration.test_event_flow import _when_len, timeline_of
from tests.support.polling import eventually
from tests.support.system import TEST_AGENCY, System, bearer, envelope, token
from tests.support.teams import join_team

SOUTH = "south-clinic"
COORDINATOR = "alex"  # on both people's care teams
NORTH_AGENCY, SOUTH_AGENCY = bearer("agency_system"), bearer("agency_system", agency=SOUTH)


async def _register(client, headers, agency: str, record: str) -> str:
    response = await client.post("/people", headers=headers,
                                 json={"agency": agency, "agency_person_id": record, "preferred_name": "Noor"})
    assert response.status_code == 201, response.text
    return response.json()["person_id"]


async def _on_teams(system: System, intake, careplan, member: str, role: str, *people: str) -> None:
    """Put `member` on each person's care team and wait until intake knows (through the broker)."""
    async with system.client(careplan, "supervisor", "sam") as c:
        for person_id in people:
            response = await join_team(c, person_id, member, role)
            assert response.status_code in (200, 201), response.text
    async with system.client(intake, role, member) as i:
        async def seen_by_intake():
            return all([(await i.get(f"/people/{p}")).status_code == 200 for p in people])
        await eventually(seen_by_intake, what=f"{member} on the teams, as intake sees them")


async def _two_agencies_one_person(system: System, intake, careplan, suffix: str) -> tuple[str, str]:
    """The same person registered by the north and the south clinic; the coordinator on both teams."""
    async with system.client(intake) as i:
        survivor = await _register(i, NORTH_AGENCY, TEST_AGENCY, f"N-{suffix}")
        duplicate = await _register(i, SOUTH_AGENCY, SOUTH, f"S-{suffix}")
    await _on_teams(system, intake, careplan, COORDINATOR, "care_coordinator", survivor, duplicate)
    return survivor, duplicate


def _merged_away(response, person_id: str, survivor: str, loc: list[str]) -> bool:
    [detail] = response.json()["detail"]
    return (response.status_code == 409 and detail["loc"] == loc and detail["merged_into"] == survivor
            and person_id in detail["msg"] and survivor in detail["msg"])


async def test_a_coordinator_merges_two_agencies_records_and_both_histories_stay_readable(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    taps = [await system.tap("intake.person_merged"), await system.tap("intake.person_merged_into")]
    survivor, duplicate = await _two_agencies_one_person(system, intake, careplan, "1")

    async with (system.client(intake, "care_coordinator", COORDINATOR) as alex, system.client(intake) as i):
        screened = await i.post(f"/people/{duplicate}/screenings", headers=SOUTH_AGENCY,
                                json={"instrument": "GAD-7", "answers": {"item1": 2}})
        assert screened.status_code == 201, screened.text

        body = {"duplicate_id": duplicate, "reason": "same name, birth date and phone"}
        merged = await alex.post(f"/people/{survivor}/merges", json=body)
        again = await alex.post(f"/people/{survivor}/merges", json={**body, "reason": "said twice"})
        assert (merged.status_code, again.status_code) == (201, 200), merged.text
        assert merged.json()["merge_id"] == again.json()["merge_id"]
        assert merged.json() == again.json() == {
            "merge_id": merged.json()["merge_id"], "survivor_id": survivor, "duplicate_id": duplicate, "reason": "same name, birth date and phone",
            "agency_identities": [{"agency": TEST_AGENCY, "agency_person_id": "N-1"},
                                  {"agency": SOUTH, "agency_person_id": "S-1"}],
        }

        kept = (await alex.get(f"/people/{survivor}")).json()
        assert (kept["merged_duplicates"], kept["merged_into"], kept["agency_identities"]) == (
            [duplicate], None, merged.json()["agency_identities"])
        gone = (await alex.get(f"/people/{duplicate}")).json()
        assert (gone["merged_into"], gone["merged_duplicates"], gone["screenings"]) == (survivor, [], 1), (
            "the duplicate's history is kept")

        # The south clinic's commands for its old record are refused, naming the survivor.
        at = f"/people/{duplicate}"
        refused = {
            "screening": await i.post(f"{at}/screenings", headers=SOUTH_AGENCY,
                                      json={"instrument": "GAD-7", "answers": {"item1": 1}}),
            "crisis contact": await i.post(f"{at}/crisis-contacts", headers=SOUTH_AGENCY, json={
                "kind": "crisis_line_call", "occurred_at": "2026-11-20T16:00:00+00:00", "location": "phone",
                "responders": [], "outcome": "resolved_in_community"}),
            "consent": await i.post(f"{at}/consents", headers=SOUTH_AGENCY,
                                    json={"recipient_kind": "care_team", "categories": ["general"]}),
            "amendment": await i.patch(at, headers=SOUTH_AGENCY, json={"pronouns": "she/her"}),
        }
        for what, response in refused.items():
            assert _merged_away(response, duplicate, survivor, ["path", "person_id"]), f"{what}: {response.text}"

        # ...and it re-points: its agency record now answers with the survivor, which it may use.
        again_registered = await i.post("/people", headers=SOUTH_AGENCY, json={
            "agency": SOUTH, "agency_person_id": "S-1", "preferred_name": "Noor"})
        assert again_registered.status_code == 200 and again_registered.json()["person_id"] == survivor
        re_pointed = await i.post(f"/people/{survivor}/screenings", headers=SOUTH_AGENCY,
                                  json={"instrument": "GAD-7", "answers": {"item1": 1}})
        assert re_pointed.status_code == 201, re_pointed.text
        elsewhere = await i.get(f"/people/{survivor}", headers=bearer("agency_system", agency="west-clinic"))
        assert elsewhere.status_code == 404

    [on_survivor], [on_duplicate] = [[envelope(m) for m in await system.collect(tap, 1, what="a merge event")]
                                     for tap in taps]
    assert (on_survivor["type"], on_duplicate["type"]) == (
        "carecoord.intake.person_merged", "carecoord.intake.person_merged_into")
    assert (on_survivor["person_id"], on_survivor["person_sequence"], on_survivor["payload"]) == (survivor, 2, {
        "duplicate_id": duplicate, "duplicate_agency": SOUTH, "duplicate_agency_person_id": "S-1", "also_known_as": []})
    assert (on_duplicate["person_id"], on_duplicate["person_sequence"], on_duplicate["payload"]) == (
        duplicate, 3, {"survivor_id": survivor})
    assert on_survivor["actor"] == on_duplicate["actor"] == {"id": COORDINATOR, "role": "care_coordinator"}

    # Careplan applies both (tests/integration/test_merges_downstream.py: what it makes of them): nothing waits on a gap.
    async with system.client(careplan, "auditor") as c:
        await eventually(lambda: _when_len(timeline_of(c, duplicate), 3), what="the duplicate's merge at careplan")
        await eventually(lambda: _when_len(timeline_of(c, survivor), 3), what="the survivor's merge at careplan")


async def test_merges_the_rules_refuse_and_callers_who_may_not_merge(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    survivor, duplicate = await _two_agencies_one_person(system, intake, careplan, "2")
    async with system.client(intake) as i:
        third = await _register(i, bearer("agency_system", agency="east-clinic"), "east-clinic", "E-2")
        only_survivor = await _register(i, NORTH_AGENCY, TEST_AGENCY, "N-2b")
    await _on_teams(system, intake, careplan, COORDINATOR, "care_coordinator", third)
    await _on_teams(system, intake, careplan, "sam", "supervisor", survivor, third)
    await _on_teams(system, intake, careplan, "dana", "care_coordinator", only_survivor)

    async with system.client(intake, "care_coordinator", COORDINATOR) as alex:
        def merge(into: str, duplicate_id: str, reason: str = "same person", client=alex):
            return client.post(f"/people/{into}/merges", json={"duplicate_id": duplicate_id, "reason": reason})

        itself = await merge(survivor, survivor)
        assert itself.status_code == 422 and itself.json()["detail"][0]["loc"] == ["body", "duplicate_id"], itself.text
        for reason in ("", "   "):
            blank = await merge(survivor, duplicate, reason)
            assert blank.status_code == 422 and blank.json()["detail"][0]["loc"] == ["body", "reason"], blank.text
        unknown = await merge(survivor, str(uuid.uuid4()))
        assert unknown.status_code == 404

        assert (await merge(survivor, duplicate)).status_code == 201
        elsewhere = await merge(third, duplicate)
        assert _merged_away(elsewhere, duplicate, survivor, ["body", "duplicate_id"]), elsewhere.text
        into_merged = await merge(duplicate, third)
        assert _merged_away(into_merged, duplicate, survivor, ["path", "survivor_id"]), into_merged.text
        assert (await alex.get(f"/people/{third}")).json()["merged_into"] is None, "nothing recorded"

    async with system.client(intake, "supervisor", "sam") as sam:
        assert (await merge(survivor, third, client=sam)).status_code == 201, "a supervisor on both teams may"
    async with system.client(intake, "care_coordinator", "dana") as dana:
        one_side = await merge(only_survivor, survivor, client=dana)
        assert one_side.status_code == 404 and one_side.json()["detail"] == "not found", (
            "a caller must see both records")
    async with system.client(intake, "clinician", COORDINATOR) as clinician:
        no_right = await merge(survivor, only_survivor, client=clinician)
        assert no_right.status_code == 403 and "merge duplicate records" in no_right.text
    async with system.client(intake, "agency_system") as agency:
        assert (await merge(survivor, only_survivor, client=agency)).status_code == 403


async def test_a_merge_over_amqp_gets_the_same_receipt_once_and_refusals_name_the_survivor(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    survivor, duplicate = await _two_agencies_one_person(system, intake, careplan, "3")
    channel = await system.channel()
    replies = await channel.declare_queue(exclusive=True)
    coordinator = {"authorization": f"Bearer {token('care_coordinator', COORDINATOR)}"}

    merge = {"command": "merge_people", "survivor_id": survivor, "duplicate_id": duplicate, "reason": "same person"}
    for _ in range(2):  # a redelivery: same message id, merged once
        await send(system, merge, coordinator, message_id="merge-msg-1", reply_to=replies.name)
    receipts = [json.loads(m.body) for m in await system.collect(replies, 2, what="merge receipts")]
    assert receipts[0] == receipts[1]
    assert (receipts[0]["survivor_id"], receipts[0]["duplicate_id"]) == (survivor, duplicate)
    assert [i["agency"] for i in receipts[0]["agency_identities"]] == [TEST_AGENCY, SOUTH]

    south = {"authorization": f"Bearer {token('agency_system', agency=SOUTH)}"}
    await send(system, {"command": "record_screening", "person_id": duplicate, "instrument": "GAD-7",
                        "answers": {"item1": 1}}, south)
    await send(system, {**merge, "survivor_id": duplicate, "duplicate_id": survivor}, coordinator)
    await send(system, {**merge, "survivor_id": survivor, "duplicate_id": duplicate}, south)
    dead = await system.collect("intake.commands", 3, what="three refused commands")
    # Commands run concurrently, so their dead letters come in any order.
    reasons = sorted(m.headers["x-carecoord-dead-letter-reason"] for m in dead)
    assert ["refused (403)" in r for r in reasons] == [True, False, False], reasons
    assert "merge duplicate records" in reasons[0]
    assert ["'loc': ['path', 'person_id']" in r for r in reasons[1:]] == [True, False], reasons
    assert all("refused (409)" in r and f"'merged_into': '{survivor}'" in r for r in reasons[1:]), reasons
    assert "'loc': ['path', 'survivor_id']" in reasons[2], reasons

    async with system.client(intake, "care_coordinator", COORDINATOR) as alex:
        assert (await alex.get(f"/people/{duplicate}")).json()["merged_into"] == survivor
        assert (await alex.get(f"/people/{survivor}")).json()["merged_duplicates"] == [duplicate]
