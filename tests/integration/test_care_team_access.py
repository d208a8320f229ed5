"""Who may form, change and read a care team, and what each answer tells someone who may not read it."""

from __future__ import annotations

import logging
import uuid

from tests.integration.test_event_flow import register
from tests.support.system import System, bearer
from tests.support.teams import join_team

SUPERVISOR_ELSEWHERE = bearer("supervisor", "sam-elsewhere")  # may staff any team, is on none here
COORDINATOR = bearer("care_coordinator", "casey")


async def test_a_team_is_formed_only_for_a_person_careplan_knows(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        unknown = uuid.uuid4()
        refused = await c.post(f"/people/{unknown}/team", headers=SUPERVISOR_ELSEWHERE,
                               json={"member_id": "casey", "role": "care_coordinator"})
        assert refused.status_code == 404

        person_id = await register(i, "team-known-1")
        formed = await join_team(c, person_id, "casey", "care_coordinator", SUPERVISOR_ELSEWHERE)
        assert formed.status_code == 201


async def test_someone_who_may_not_read_the_team_learns_only_what_they_changed(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await register(i, "team-blind-1")
        await join_team(c, person_id, "casey", "care_coordinator", SUPERVISOR_ELSEWHERE)
        team = f"/people/{person_id}/team"

        added = await c.post(team, headers=SUPERVISOR_ELSEWHERE, json={"member_id": "kim", "role": "clinician"})
        assert added.status_code == 201
        assert added.json()["members"] == [{"member_id": "kim", "role": "clinician", "program_id": None,
                                            "program_kind": None, "joined_through_merge_of": None}]  # not casey
        # Asking again answers the same: whether kim was already on the team is not theirs to know.
        again = await c.post(team, headers=SUPERVISOR_ELSEWHERE, json={"member_id": "kim", "role": "clinician"})
        assert (again.status_code, again.json()) == (added.status_code, added.json())

        # Adding themselves, they may read the team from then on: they see all of it.
        joined = await c.post(team, headers=SUPERVISOR_ELSEWHERE, json={"member_id": "sam-elsewhere",
                                                                      "role": "supervisor"})
        assert {m["member_id"] for m in joined.json()["members"]} == {"casey", "kim", "sam-elsewhere"}

        # Someone on the team sees the whole team in the answer.
        by_member = await c.post(team, headers=COORDINATOR, json={"member_id": "pat", "role": "peer_specialist"})
        assert by_member.status_code == 201
        assert {m["member_id"] for m in by_member.json()["members"]} == {"casey", "kim", "sam-elsewhere", "pat"}


async def test_removing_answers_alike_for_a_member_a_stranger_and_an_unknown_person_unless_one_sees_the_team(
        system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await register(i, "team-remove-1")
        await join_team(c, person_id, "casey", "care_coordinator", SUPERVISOR_ELSEWHERE)
        await join_team(c, person_id, "kim", "clinician", SUPERVISOR_ELSEWHERE)

        outside = [await c.delete(path, headers=SUPERVISOR_ELSEWHERE) for path in (
            f"/people/{person_id}/team/kim", f"/people/{person_id}/team/nobody", f"/people/{uuid.uuid4()}/team/kim")]
        assert [(r.status_code, r.text) for r in outside] == [(404, '{"detail":"not found"}')] * 3
        members = (await c.get(f"/people/{person_id}/team", headers=COORDINATOR)).json()["members"]
        assert {m["member_id"] for m in members} == {"casey", "kim"}, "nothing changed for a caller who cannot see"

        assert (await c.delete(f"/people/{person_id}/team/kim", headers=COORDINATOR)).status_code == 204
        assert (await c.delete(f"/people/{person_id}/team/kim", headers=COORDINATOR)).status_code == 404


async def test_reading_the_team_is_recorded_as_a_read(system: System, caplog):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await register(i, "team-read-1")
        await join_team(c, person_id, "casey", "care_coordinator", SUPERVISOR_ELSEWHERE)
        with caplog.at_level(logging.INFO, logger="carecoord.audit"):
            response = await c.get(f"/people/{person_id}/team", headers=COORDINATOR)
        assert response.status_code == 200
    reads = [(r.reader, r.reader_role, r.person_id, r.record) for r in caplog.records if r.name == "carecoord.audit"]
    assert reads == [("casey", "care_coordinator", person_id, "care team")]
