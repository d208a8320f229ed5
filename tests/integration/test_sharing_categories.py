"""Free text in the plan leaves the team only in the consent category it was marked with: never by
guessing its category from its words or its life domain."""

from __future__ import annotations

from tests.integration.test_event_flow import register
from tests.support.polling import eventually
from tests.support.system import System, bearer
from tests.support.teams import join_team

AUNT = bearer("support_person", "aunt-rosa")
COORDINATOR = bearer("care_coordinator", "casey")


async def test_an_aunt_with_general_and_crisis_consent_sees_only_goals_and_supports_marked_for_those(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await register(i, "sharing-1")
        person = bearer("person", "luz", person_id=person_id)
        await join_team(c, person_id, "casey", "care_coordinator", bearer("supervisor", "sam"))
        plan = f"/people/{person_id}/plan"
        for goal in ({"goal_id": "methadone", "in_own_words": "keep taking my methadone and stay off heroin",
                      "life_domain": "clinical_care"},
                     {"goal_id": "drinking", "in_own_words": "stop drinking"},
                     {"goal_id": "choir", "in_own_words": "sing in the choir again", "life_domain": "family",
                      "sharing_category": "general"}):
            response = await c.post(f"{plan}/goals", headers=COORDINATOR, json=goal)
            assert response.status_code == 201, response.text
        response = await c.post(f"{plan}/supports", headers=COORDINATOR, json={
            "support_id": "otp", "life_domain": "clinical_care", "description": "Daily methadone dosing",
            "provided_by": "Opioid treatment program"})
        assert response.status_code == 201, response.text
        assert {g["goal_id"]: g["sharing_category"] for g in response.json()["goals"]} == {
            "methadone": None, "drinking": None, "choir": "general"}

        consent = await i.post(f"/people/{person_id}/consents", json={
            "recipient_kind": "named_person", "recipient_id": "aunt-rosa", "categories": ["general", "crisis"]})
        assert consent.status_code == 201, consent.text

        async def shared() -> dict | None:
            response = await c.get(f"/people/{person_id}/shared", headers=AUNT)
            return response.json() if response.status_code == 200 else None

        seen = await eventually(shared, what="the consent to reach careplan")
        assert [g["in_own_words"] for g in seen["goals"]] == ["sing in the choir again"]
        assert seen["supports"] == []

        # The person decides later; the team may not decide for them.
        mark = f"{plan}/goals/drinking/sharing-category"
        assert (await c.put(mark, headers=COORDINATOR, json={"sharing_category": "general"})).status_code == 403
        marked = await c.put(mark, headers=person, json={"sharing_category": "substance_use"})
        assert marked.status_code == 200, marked.text
        assert [g["in_own_words"] for g in (await shared())["goals"]] == ["sing in the choir again"]
        await c.put(mark, headers=person, json={"sharing_category": "general"})
        await c.put(f"{plan}/supports/otp/sharing-category", headers=person, json={"sharing_category": "general"})
        seen = await shared()
        assert [g["in_own_words"] for g in seen["goals"]] == ["stop drinking", "sing in the choir again"]
        assert [s["provided_by"] for s in seen["supports"]] == ["Opioid treatment program"]

        unknown = await c.put(f"{plan}/goals/no-such-goal/sharing-category", headers=person,
                              json={"sharing_category": "general"})
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "goal_id"]
        bad = await c.put(mark, headers=person, json={"sharing_category": "everyone"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "sharing_category"]
