"""A change to the care plan reaches notifications as a `plan_changed` notice for the care
coordinator (and the members the change names), on the kinds and ids careplan publishes: the
plan's words stay in careplan."""

from __future__ import annotations

from services.notifications.domain.routing import recipients
from tests.integration.test_care_plan_http import CLINICIAN, COORDINATOR, person_with_team
from tests.support.polling import eventually
from tests.support.system import System

GOAL_WORDS = "I want to stop drinking before my daughter's birthday"


async def test_a_goal_set_makes_a_plan_changed_notice_due_for_the_coordinator_without_the_plans_words(
        system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications")
    async with (system.client(intake, "agency_system") as i, system.client(careplan) as c,
                system.client(notifications) as n):
        person_id = await person_with_team(i, c, "plan-notice-1")
        goal = {"goal_id": "g-sober", "in_own_words": GOAL_WORDS, "team_restatement": "Reduce alcohol use",
                "life_domain": "harm_reduction", "indicators": ["days without a drink"]}
        created = await c.post(f"/people/{person_id}/plan/goals", headers=COORDINATOR, json=goal)
        assert created.status_code == 201, created.text
        again = await c.post(f"/people/{person_id}/plan/goals", headers=COORDINATOR, json=goal)
        assert again.status_code == 200  # a retry changes nothing: no second notice

        async def plan_notices():
            response = await n.get(f"/people/{person_id}/notifications", headers=CLINICIAN)
            due = response.json()["due"] if response.status_code == 200 else []
            return [d for d in due if d["kind"] == "plan_changed"] or None

        [notice] = await eventually(plan_notices, what="the goal to make a plan_changed notice due")
        assert (notice["audience"], notice["urgent"]) == ("coordinator_and_plan_members", False)
        assert "a goal was set" in notice["message"]
        for words in (GOAL_WORDS, "drinking", "Reduce alcohol", "g-sober", "days without"):
            assert words not in str(notice)

        team = {m["member_id"]: m["role"] for m in (await c.get(f"/people/{person_id}/team", headers=CLINICIAN)).json()["members"]}
        assert recipients(notice["audience"], team) == {"casey-coordinator"}

        # The next change is the stream's next event: notifications applies it in order.
        support = {"support_id": "s-peer", "life_domain": "peer_support", "description": "Walks with Pat",
                   "provided_by": "pat-peer"}
        assert (await c.post(f"/people/{person_id}/plan/supports", headers=COORDINATOR, json=support)).status_code == 201

        async def two():
            found = await plan_notices()
            return found if found and len(found) == 2 else None
        assert "a support was added" in (await eventually(two, what="the support's notice"))[1]["message"]
        assert len(await plan_notices()) == 2
