"""A merge at intake followed by careplan and notifications, through the broker: the survivor's
team is the union (who joined through the merge), both histories are shown with the record each
entry came from, the duplicate's id answers with the survivor's record for everyone who could see
either, the picture equals a rebuild, and the duplicate's notices reach the union team."""

from __future__ import annotations

from tests.integration.test_merging import COORDINATOR, _on_teams, _register
from tests.integration.test_picture import projection_of
from tests.support.polling import eventually
from tests.support.system import TEST_AGENCY, System, bearer

SOUTH = "south-clinic"
NORTH_AGENCY, SOUTH_AGENCY = bearer("agency_system"), bearer("agency_system", agency=SOUTH)
GAD7_POSITIVE = {f"item{n}": 2 for n in range(1, 8)}


async def _status(client, path: str) -> int:  # noqa: ANN001
    return (await client.get(path)).status_code


async def _access(system: System, careplan, notifications, survivor: str, duplicate: str) -> dict:  # noqa: ANN001
    """Who reads what, by each record's id: careplan's picture and timeline, notifications' due list."""
    callers = {
        "alex (both teams)": ("care_coordinator", COORDINATOR, {}),
        "robin (duplicate's team)": ("clinician", "robin", {}),
        "dana (survivor's team)": ("clinician", "dana", {}),
        "lee (neither team)": ("clinician", "lee", {}),
        "the person, by the survivor's id": ("person", "noor-n", {"person_id": survivor}),
        "the person, by the duplicate's id": ("person", "noor-s", {"person_id": duplicate}),
    }
    matrix: dict = {}
    for name, (role, subject, claims) in callers.items():
        async with (system.client(careplan, role, subject, **claims) as c,
                    system.client(notifications, role, subject, **claims) as n):
            for record, person in (("survivor", survivor), ("duplicate", duplicate)):
                matrix[(name, record)] = (await _status(c, f"/people/{person}/picture"),
                                          await _status(c, f"/people/{person}/timeline"),
                                          await _status(n, f"/people/{person}/notifications"))
    return matrix


async def test_a_merge_is_followed_by_careplan_and_notifications_for_everyone_who_saw_either_record(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications")
    async with system.client(intake) as i:
        survivor = await _register(i, NORTH_AGENCY, TEST_AGENCY, "N-down")
        duplicate = await _register(i, SOUTH_AGENCY, SOUTH, "S-down")
    await _on_teams(system, intake, careplan, COORDINATOR, "care_coordinator", survivor, duplicate)
    await _on_teams(system, intake, careplan, "robin", "clinician", duplicate)
    await _on_teams(system, intake, careplan, "casey", "care_coordinator", duplicate)
    await _on_teams(system, intake, careplan, "dana", "clinician", survivor)

    async with (system.client(intake) as i, system.client(careplan, "care_coordinator", COORDINATOR) as alex):
        assert (await i.post(f"/people/{duplicate}/screenings", headers=SOUTH_AGENCY,
                             json={"instrument": "GAD-7", "answers": GAD7_POSITIVE})).status_code == 201
        for person, goal, words in ((survivor, "g-north", "Keep my flat"),
                                    (duplicate, "g-south", "See my sister on Sundays")):
            set_goal = await alex.post(f"/people/{person}/plan/goals",
                                       json={"goal_id": goal, "in_own_words": words, "indicators": []})
            assert set_goal.status_code == 201, set_goal.text
        for person, sign in ((survivor, "Not sleeping"), (duplicate, "Skipping meals")):  # the duplicate's is newer
            written = await alex.put(f"/people/{person}/safety-plan",
                                     json={"based_on_version": 0, "sections": {"warning_signs": [sign]}})
            assert written.status_code == 201, written.text

    # Before the merge, each record is its own team's.
    await eventually(lambda: _when_due(notifications, duplicate, "screening_positive"), what="the duplicate's notice")
    before = await _access(system, careplan, notifications, survivor, duplicate)
    assert before[("robin (duplicate's team)", "survivor")] == (404, 404, 404)
    assert before[("dana (survivor's team)", "duplicate")] == (404, 404, 404)
    assert before[("the person, by the duplicate's id", "survivor")][:2] == (404, 404)

    async with system.client(intake, "care_coordinator", COORDINATOR) as alex:
        merged = await alex.post(f"/people/{survivor}/merges",
                                 json={"duplicate_id": duplicate, "reason": "same name, birth date and phone"})
        assert merged.status_code == 201, merged.text

    async with system.client(careplan, "care_coordinator", COORDINATOR) as c:
        async def union_team():
            team = (await c.get(f"/people/{survivor}/team")).json()
            return team if {m["member_id"] for m in team["members"]} >= {"robin", "casey", "dana"} else None
        team = await eventually(union_team, what="the union team at careplan")
        through = {m["member_id"]: m["joined_through_merge_of"] for m in team["members"]}
        assert through == {COORDINATOR: None, "dana": None, "robin": duplicate, "casey": duplicate}
        assert team["coordinators_to_choose_from"] == sorted([COORDINATOR, "casey"]), "both stay; a supervisor chooses"

        async def resolved():
            response = await c.get(f"/people/{duplicate}/picture")
            return response.json() if response.json().get("person_id") == survivor else None
        picture = await eventually(resolved, what="the duplicate's id answering with the survivor's picture")
        assert [(g["goal_id"], g["record_id"]) for g in picture["goals"]] == [("g-north", survivor)]
        assert [(g["in_own_words"], g["record_id"]) for g in picture["carried_over_goals"]] == [
            ("See my sister on Sundays", duplicate)]
        assert [(s["instrument"], s["record_id"]) for s in picture["screenings"]] == [("GAD-7", duplicate)]

        safety = (await c.get(f"/people/{survivor}/safety-plan")).json()
        assert (safety["record_id"], safety["sections"]["warning_signs"]) == (duplicate, ["Skipping meals"]), (
            "the newest safety plan is current")
        assert safety["versions_by_record"] == {survivor: 1, duplicate: 1}
        earlier = (await c.get(f"/people/{duplicate}/safety-plan", params={"record": survivor, "version": 1})).json()
        assert (earlier["record_id"], earlier["sections"]["warning_signs"]) == (survivor, ["Not sleeping"])

        timeline = (await c.get(f"/people/{duplicate}/timeline")).json()
        assert timeline["person_id"] == survivor
        kinds = {(e["record_id"], e["kind"]) for e in timeline["entries"]}
        assert {(survivor, "person_registered"), (survivor, "person_merged"), (duplicate, "person_registered"),
                (duplicate, "screening_scored"), (duplicate, "person_merged_into")} <= kinds

        # The served picture is the same after rebuilding every picture from the log.
        await projection_of(careplan).catch_up()
        live = (await c.get(f"/people/{survivor}/picture")).json()
        await projection_of(careplan).rebuild()
        rebuilt = (await c.get(f"/people/{survivor}/picture")).json()
        assert rebuilt == live and {m["member_id"] for m in live["team"]} == {COORDINATOR, "dana", "robin", "casey"}

    # Notifications: the duplicate's notice is the survivor's too, and reaches the union team.
    due = await eventually(lambda: _when_due(notifications, survivor, "screening_positive", "dana"),
                           what="the duplicate's notice in the survivor's due list")
    assert due["person_id"] == survivor

    after = await _access(system, careplan, notifications, survivor, duplicate)
    for caller in ("alex (both teams)", "robin (duplicate's team)", "dana (survivor's team)"):
        assert after[(caller, "survivor")] == after[(caller, "duplicate")] == (200, 200, 200), caller
    for record in ("survivor", "duplicate"):
        assert after[("lee (neither team)", record)] == (404, 404, 404)
        for person in ("the person, by the survivor's id", "the person, by the duplicate's id"):
            assert after[(person, record)][:2] == (200, 200), (person, record)  # notifications: staff only


async def _when_due(notifications, person_id: str, kind: str, reader: str = COORDINATOR) -> dict | None:  # noqa: ANN001
    async with System.client(notifications, "care_coordinator" if reader == COORDINATOR else "clinician", reader) as n:
        response = await n.get(f"/people/{person_id}/notifications")
    if response.status_code != 200:
        return None
    body = response.json()
    return body if any(d["kind"] == kind for d in body["due"]) else None


async def test_undoing_a_wrong_merge_restores_both_sides_and_the_access_matrix(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications")
    async with system.client(intake) as i:
        survivor = await _register(i, NORTH_AGENCY, TEST_AGENCY, "N-undo")
        duplicate = await _register(i, SOUTH_AGENCY, SOUTH, "S-undo")
    await _on_teams(system, intake, careplan, COORDINATOR, "care_coordinator", survivor, duplicate)
    await _on_teams(system, intake, careplan, "robin", "clinician", duplicate)
    await _on_teams(system, intake, careplan, "dana", "clinician", survivor)
    async with system.client(intake) as i:
        assert (await i.post(f"/people/{duplicate}/screenings", headers=SOUTH_AGENCY,
                             json={"instrument": "GAD-7", "answers": GAD7_POSITIVE})).status_code == 201
    await eventually(lambda: _when_due(notifications, duplicate, "screening_positive"), what="the duplicate's notice")
    before = await _access(system, careplan, notifications, survivor, duplicate)

    async with system.client(intake, "care_coordinator", COORDINATOR) as alex:
        merged = (await alex.post(f"/people/{survivor}/merges",
                                  json={"duplicate_id": duplicate, "reason": "same phone"})).json()
    async with system.client(careplan, "clinician", "robin") as robin:
        async def robin_sees_the_survivor():
            return (await robin.get(f"/people/{duplicate}/picture")).json().get("person_id") == survivor or None
        await eventually(robin_sees_the_survivor, what="the merge followed at careplan")
    async with system.client(careplan, "supervisor", "sam") as sam:  # added after the merge: stays with the survivor
        assert (await sam.post(f"/people/{survivor}/team",
                               json={"member_id": "kai", "role": "peer_specialist"})).status_code == 201

    undo = f"/people/{survivor}/merges/{merged['merge_id']}/undo"
    async with (system.client(intake, "clinician", "dana") as dana, system.client(intake, "clinician", "robin") as robin,
                system.client(intake, "care_coordinator", COORDINATOR) as alex):
        assert (await dana.post(undo, json={"reason": "not the same"})).status_code == 403, "the right to merge"
        blank = await alex.post(undo, json={"reason": ""})
        assert blank.status_code == 422 and blank.json()["detail"][0]["loc"] == ["body", "reason"]
        unknown = await alex.post(f"/people/{survivor}/merges/{duplicate}/undo", json={"reason": "x"})
        assert unknown.status_code == 404
        undone = await alex.post(undo, json={"reason": "different birth dates"})
        repeated = await alex.post(undo, json={"reason": "said twice"})
        assert (undone.status_code, repeated.status_code) == (201, 200), undone.text
        assert undone.json()["agency_identities"] == [{"agency": TEST_AGENCY, "agency_person_id": "N-undo"}]
        assert robin  # robin is a clinician: no right to merge or undo at intake

    async with system.client(intake, "auditor") as auditor:
        history = (await auditor.get(f"/people/{survivor}")).json()["merge_history"]
        assert [(h["what"], h["by"], h["merge_id"]) for h in history] == [
            ("merged_in", COORDINATOR, merged["merge_id"]), ("merge_undone", COORDINATOR, merged["merge_id"])]
        assert (await auditor.get(f"/people/{duplicate}")).json()["merged_into"] is None

    async with system.client(careplan, "care_coordinator", COORDINATOR) as c:
        async def split():
            team = (await c.get(f"/people/{survivor}/team")).json()
            members = {m["member_id"] for m in team["members"]}
            return team if "robin" not in members and "kai" in members else None
        team = await eventually(split, what="careplan splitting the teams")
        assert {m["member_id"] for m in team["members"]} == {COORDINATOR, "dana", "kai"}
        back = (await c.get(f"/people/{duplicate}/timeline")).json()
        assert back["person_id"] == duplicate and back["entries"][-1]["kind"] == "merge_undone"
        assert {e["record_id"] for e in back["entries"]} == {duplicate}

    async def restored():
        after = await _access(system, careplan, notifications, survivor, duplicate)
        return after if after == before else None
    after = await eventually(restored, what="the access matrix as before the merge")
    assert after[("robin (duplicate's team)", "survivor")] == (404, 404, 404)
    assert after[("robin (duplicate's team)", "duplicate")] == (200, 200, 200)
