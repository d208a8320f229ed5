"""Joining and leaving a person's care team changes what every service shows that member."""

from __future__ import annotations

from tests.support.polling import eventually
from tests.support.system import TEST_AGENCY, System, bearer
from tests.support.teams import join_team


async def test_a_member_sees_the_record_everywhere_after_joining_and_nowhere_after_leaving(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications")
    member, supervisor = bearer("clinician", "dana-clinician"), bearer("supervisor", "sam-supervisor")
    async with (system.client(intake) as i, system.client(careplan) as c, system.client(notifications) as n):
        registered = await i.post("/people", headers=bearer("agency_system"),
                                  json={"agency": TEST_AGENCY, "agency_person_id": "vis-1", "preferred_name": "Rae"})
        person_id = registered.json()["person_id"]
        reads = {i: f"/people/{person_id}", c: f"/people/{person_id}/timeline",
                 n: f"/people/{person_id}/notifications"}

        async def statuses() -> set[int]:
            return {(await client.get(path, headers=member)).status_code for client, path in reads.items()}

        assert await statuses() == {404}, "not on the team: the person does not exist for them"

        # Removing someone takes sight of the team: the supervisor staffs it as one of its members.
        await join_team(c, person_id, "sam-supervisor", "supervisor", supervisor)
        joined = await c.post(f"/people/{person_id}/team", headers=supervisor,
                              json={"member_id": "dana-clinician", "role": "clinician"})
        assert joined.status_code == 201
        await eventually(lambda: _equals(statuses(), {200}), what="every service to let the new member in")

        left = await c.delete(f"/people/{person_id}/team/dana-clinician", headers=supervisor)
        assert left.status_code == 204
        await eventually(lambda: _equals(statuses(), {404}), what="every service to shut the former member out")

        team = await c.get(f"/people/{person_id}/team", headers=bearer("auditor"))
        assert team.json()["members"] == [{"member_id": "sam-supervisor", "role": "supervisor", "program_id": None,
                                           "program_kind": None, "joined_through_merge_of": None}]
        [period] = [p for p in team.json()["history"] if p["member_id"] == "dana-clinician"]  # joined and left
        assert (period["member_id"], period["role"]) == ("dana-clinician", "clinician")
        assert period["joined_at"] < period["left_at"]


async def test_a_team_role_that_does_not_exist_is_refused_naming_the_field(system: System):
    careplan = await system.start("careplan")
    async with system.client(careplan, "supervisor") as c:
        response = await c.post("/people/00000000-0000-0000-0000-000000000001/team",
                                json={"member_id": "x", "role": "wizard"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "role"]


async def _equals(awaitable, expected):
    return await awaitable == expected
