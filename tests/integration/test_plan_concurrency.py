"""Many writes to one person's plan at the same moment, through the real HTTP app: every one is
recorded, none answers 500, and an id repeated concurrently is recorded once."""

from __future__ import annotations

import asyncio

from eventsourcing.persistence import RecordConflictError

from tests.integration.test_care_plan_http import COORDINATOR, PEER, person_with_team
from tests.support.system import System, bearer

CONCURRENT = 20


async def test_concurrent_writes_to_one_plan_are_all_recorded_once(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await person_with_team(i, c, "busy-1")
        plan, medication = f"/people/{person_id}/plan", f"/people/{person_id}/medication"
        person = bearer("person", "self", person_id=person_id)

        writes = [c.post(f"{plan}/goals", headers=COORDINATOR, json={"goal_id": f"g-{n}", "in_own_words": f"Goal {n}"})
                  for n in range(CONCURRENT)]
        writes += [c.post(f"{medication}/notes", headers=PEER, json={"note_id": f"n-{n}", "kind": "help_given",
                                                                     "text": f"Help {n}"}) for n in range(CONCURRENT)]
        writes += [c.post(f"{plan}/agreement", headers=person, json={"agrees": True}) for _ in range(CONCURRENT)]
        answers = await asyncio.gather(*writes)
        assert [r.status_code for r in answers] == [201] * len(writes), [r.text[:200] for r in answers
                                                                         if r.status_code != 201][:3]

        repeats = await asyncio.gather(*(
            c.post(f"{plan}/goals", headers=COORDINATOR, json={"goal_id": "g-same", "in_own_words": "Once"})
            for _ in range(CONCURRENT)))
        assert sorted(r.status_code for r in repeats) == [200] * (CONCURRENT - 1) + [201]

        shown = (await c.get(plan, headers=PEER)).json()
        assert sorted(g["goal_id"] for g in shown["goals"]) == sorted([f"g-{n}" for n in range(CONCURRENT)] + ["g-same"])
        # Every agreement was recorded on the plan: the plan's version counts them.
        assert shown["version"] == 1 + CONCURRENT + CONCURRENT + 1
        notes = (await c.get(medication, headers=PEER)).json()["notes"]
        assert sorted(n["note_id"] for n in notes) == sorted(f"n-{n}" for n in range(CONCURRENT))


async def test_writes_to_one_plan_through_two_replicas_are_all_recorded(system: System):
    """Each replica takes turns within itself; between them, the loser of a race retries on what
    the other stored."""
    intake = await system.start_connected("intake")
    replicas = [await system.start_connected("careplan"), await system.start_connected("careplan")]
    async with (system.client(intake, "agency_system") as i, system.client(replicas[0]) as a,
                system.client(replicas[1]) as b):
        person_id = await person_with_team(i, a, "busy-2")
        plan = f"/people/{person_id}/plan"
        answers = await asyncio.gather(*(
            client.post(f"{plan}/goals", headers=COORDINATOR, json={"goal_id": f"g-{n}-{k}", "in_own_words": "Mine"})
            for n in range(CONCURRENT // 2) for k, client in enumerate((a, b))))
        assert [r.status_code for r in answers] == [201] * CONCURRENT, [r.text[:200] for r in answers
                                                                        if r.status_code != 201][:3]
        assert len((await b.get(plan, headers=PEER)).json()["goals"]) == CONCURRENT


async def test_a_write_that_loses_every_race_answers_503_with_retry_after_and_saves_nothing(system: System, monkeypatch):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await person_with_team(i, c, "busy-3")
        application = careplan.application

        def another_replica_always_first(*_, **__):
            raise RecordConflictError("another replica saved this aggregate first")

        # Another replica that wins every race: only the database's answer is simulated.
        monkeypatch.setattr(application, "save", another_replica_always_first)
        monkeypatch.setattr("services.careplan.aggregate_writes.MAX_BACKOFF", 0.001)
        goal = await c.post(f"/people/{person_id}/plan/goals", headers=COORDINATOR,
                            json={"goal_id": "g-lost", "in_own_words": "Lost the race"})
        member = await c.post(f"/people/{person_id}/team", headers=bearer("supervisor", "sam"),
                              json={"member_id": "robin", "role": "clinician"})
        monkeypatch.undo()

        for answer in (goal, member):
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "1"
        # Nothing was saved: the plan the goal would have started does not exist, nor the member.
        assert (await c.get(f"/people/{person_id}/plan", headers=PEER)).status_code == 404
        team = (await c.get(f"/people/{person_id}/team", headers=PEER)).json()
        assert "robin" not in [m["member_id"] for m in team["members"]]
