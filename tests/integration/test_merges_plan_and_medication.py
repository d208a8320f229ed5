"""After a merge at intake, careplan's medication collaboration and care plan endpoints show both
records, through the broker and HTTP: the survivor's notes and prescribing decisions list both
records' entries in time order, each with its record, with Part 2 entries still withheld from a
member of another program; the care plan is the survivor's with the duplicate's goals carried over
in the person's own words; by either id. After the undo each record shows only its own again."""

from __future__ import annotations

from datetime import datetime

from tests.integration.test_merging import COORDINATOR, _on_teams, _register
from tests.support.polling import eventually
from tests.support.system import TEST_AGENCY, System, bearer
from tests.support.teams import join_team

SOUTH = "south-clinic"
NORTH_AGENCY, SOUTH_AGENCY = bearer("agency_system"), bearer("agency_system", agency=SOUTH)
RITA = bearer("clinician", "rita")  # on the duplicate's team, for a Part 2 program
PAT = bearer("clinician", "pat")  # the duplicate's prescriber
HANA = bearer("care_coordinator", "hana")  # on the survivor's team, for another program


def _entries(body: dict, key: str = "notes", id_key: str = "note_id") -> list[tuple[str, str]]:
    return [(entry[id_key], entry["record_id"]) for entry in body[key]]


async def test_the_survivors_medication_and_plan_show_both_records_until_the_merge_is_undone(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake) as i:
        survivor = await _register(i, NORTH_AGENCY, TEST_AGENCY, "N-med")
        duplicate = await _register(i, SOUTH_AGENCY, SOUTH, "S-med")
    await _on_teams(system, intake, careplan, COORDINATOR, "care_coordinator", survivor, duplicate)
    async with system.client(careplan, "supervisor", "sam") as sam:
        for person, member, role, program in ((duplicate, "rita", "clinician", {"program_id": "recovery-clinic",
                                                                                 "program_kind": "part2"}),
                                              (duplicate, "pat", "prescriber", {}),
                                              (survivor, "hana", "case_manager", {"program_id": "housing-first",
                                                                                  "program_kind": "other"})):
            joined = await join_team(sam, person, member, role, **program)
            assert joined.status_code == 201, joined.text

    async with system.client(careplan, "care_coordinator", COORDINATOR) as alex:
        async def note(person: str, note_id: str, headers: dict | None = None) -> dict:
            response = await alex.post(f"/people/{person}/medication/notes", headers=headers, json={
                "note_id": note_id, "kind": "person_says", "text": f"In my words ({note_id})"})
            assert response.status_code == 201, response.text
            return response.json()

        await note(survivor, "n-north-1")
        assert (await note(duplicate, "n-south", RITA))["notes"][0]["part2"] is True
        decided = await alex.post(f"/people/{duplicate}/medication/decisions", headers=PAT, json={
            "decision_id": "d-south", "decision": "start", "medication": "sertraline", "dose": "50 mg",
            "rationale": "talked it through", "discussed_with_person": True})
        assert decided.status_code == 201, decided.text
        await note(survivor, "n-north-2")
        for person, goal, words in ((survivor, "g-north", "Keep my flat"),
                                    (duplicate, "g-south", "See my sister on Sundays")):
            set_goal = await alex.post(f"/people/{person}/plan/goals",
                                       json={"goal_id": goal, "in_own_words": words, "indicators": []})
            assert set_goal.status_code == 201, set_goal.text

    async with system.client(intake, "care_coordinator", COORDINATOR) as i:
        merged = await i.post(f"/people/{survivor}/merges",
                              json={"duplicate_id": duplicate, "reason": "same name, birth date and phone"})
        assert merged.status_code == 201, merged.text

    async with system.client(careplan, "care_coordinator", COORDINATOR) as alex:
        async def medication_of(person: str, answered_as: str) -> dict | None:
            body = (await alex.get(f"/people/{person}/medication")).json()
            return body if body.get("person_id") == answered_as else None

        both = await eventually(lambda: medication_of(duplicate, survivor), what="the merge followed at careplan")
        assert _entries(both) == [("n-north-1", survivor), ("n-south", duplicate), ("n-north-2", survivor)]
        assert [datetime.fromisoformat(n["added_at"]) for n in both["notes"]] == sorted(
            datetime.fromisoformat(n["added_at"]) for n in both["notes"])
        assert _entries(both, "decisions", "decision_id") == [("d-south", duplicate)]
        assert both == (await alex.get(f"/people/{survivor}/medication")).json(), "either id, the same answer"

        # Part 2 withholding applies to each entry, whichever record holds it.
        shown_to_hana = (await alex.get(f"/people/{survivor}/medication", headers=HANA)).json()
        assert (_entries(shown_to_hana), shown_to_hana["withheld"]) == (
            [("n-north-1", survivor), ("n-north-2", survivor)], 1)
        assert _entries(shown_to_hana, "decisions", "decision_id") == [("d-south", duplicate)]

        plan = (await alex.get(f"/people/{duplicate}/plan")).json()
        assert (plan["person_id"], plan["record_id"]) == (survivor, survivor), "the survivor's plan stays current"
        assert [g["goal_id"] for g in plan["goals"]] == ["g-north"]
        assert [(g["goal_id"], g["record_id"], g["in_own_words"], g["status"]) for g in plan["carried_over_goals"]] == [
            ("g-south", duplicate, "See my sister on Sundays", "active")]

        # Written after the merge (by the duplicate's id): on the survivor's record, shown with both.
        after = await note(duplicate, "n-after")
        assert after["person_id"] == survivor and _entries(after)[-1] == ("n-after", survivor)
        assert len(after["notes"]) == 4
        changed = await alex.post(f"/people/{duplicate}/plan/goals",
                                  json={"goal_id": "g-after", "in_own_words": "Walk the dog", "indicators": []})
        assert changed.status_code == 201, changed.text
        assert [g["goal_id"] for g in changed.json()["goals"]] == ["g-north", "g-after"]
        assert [g["goal_id"] for g in changed.json()["carried_over_goals"]] == ["g-south"]

    async with system.client(intake, "care_coordinator", COORDINATOR) as i:
        undone = await i.post(f"/people/{survivor}/merges/{merged.json()['merge_id']}/undo",
                              json={"reason": "different birth dates"})
        assert undone.status_code == 201, undone.text

    async with system.client(careplan, "care_coordinator", COORDINATOR) as alex:
        own = await eventually(lambda: medication_of(duplicate, duplicate), what="the undo followed at careplan")
        assert _entries(own) == [("n-south", duplicate)]
        assert _entries(own, "decisions", "decision_id") == [("d-south", duplicate)]
        theirs = (await alex.get(f"/people/{survivor}/medication")).json()
        assert _entries(theirs) == [("n-north-1", survivor), ("n-north-2", survivor), ("n-after", survivor)]
        assert theirs["decisions"] == []
        for person, goals in ((survivor, ["g-north", "g-after"]), (duplicate, ["g-south"])):
            plan = (await alex.get(f"/people/{person}/plan")).json()
            assert (plan["record_id"], [g["goal_id"] for g in plan["goals"]], plan["carried_over_goals"]) == (
                person, goals, []), person
