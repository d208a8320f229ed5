"""Consent directives recorded at intake decide, in careplan, what a named support sees."""

from __future__ import annotations

from tests.integration.test_event_flow import register
from tests.support.polling import eventually
from tests.support.system import System, bearer
from tests.support.teams import join_team

AUNT = bearer("support_person", "aunt-rosa")
AUDIT_C_POSITIVE = {"item1": 2, "item2": 1, "item3": 1}
GAD7_POSITIVE = {f"item{n}": 2 for n in range(1, 8)}


async def test_a_support_sees_what_the_person_consented_to_and_nothing_after_revocation(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await register(i, "consent-1")
        for instrument, answers in (("AUDIT-C", AUDIT_C_POSITIVE), ("GAD-7", GAD7_POSITIVE)):
            response = await i.post(f"/people/{person_id}/screenings",
                                    json={"instrument": instrument, "answers": answers, "sex": "female"})
            assert response.status_code == 201, response.text
        shared = f"/people/{person_id}/shared"
        assert (await c.get(shared, headers=AUNT)).status_code == 404  # no consent: no such person, for her

        granted = await i.post(f"/people/{person_id}/consents", json={
            "recipient_kind": "named_person", "recipient_id": "aunt-rosa", "categories": ["general", "mental_health"]})
        assert granted.status_code == 201, granted.text

        async def visible():
            response = await c.get(shared, headers=AUNT)
            return response.json() if response.status_code == 200 else None

        seen = await eventually(visible, what="the consent to reach careplan")
        assert seen["categories_shared"] == ["general", "mental_health"]
        assert seen["categories_withheld"] == ["substance_use", "crisis"]
        assert seen["preferred_name"] == "Sam"
        assert [r["instrument"] for r in seen["screening_results"]] == ["GAD-7"]  # AUDIT-C stays hidden
        assert seen["crisis_contacts"] is None and seen["safety_plan"] is None
        assert (await c.get(shared, headers=bearer("support_person", "brother-tomas"))).status_code == 404

        directive_id = granted.json()["directive_id"]
        revoked = await i.post(f"/people/{person_id}/consents/{directive_id}/revocation", json={})
        assert revoked.status_code in (200, 201), revoked.text

        async def hidden():
            return (await c.get(shared, headers=AUNT)).status_code == 404

        await eventually(hidden, what="the revocation to reach careplan")


async def test_a_family_member_joins_the_team_only_once_consent_names_them(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    supervisor, coordinator = bearer("supervisor", "sam-supervisor"), bearer("care_coordinator", "casey")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await register(i, "consent-2")
        team = f"/people/{person_id}/team"
        await join_team(c, person_id, "casey", "care_coordinator", supervisor)
        join = {"member_id": "aunt-rosa", "role": "family_or_natural_support"}
        refused = await c.post(team, headers=coordinator, json=join)
        assert refused.status_code == 403 and "consent" in refused.json()["detail"]

        self_promoted = await c.post(team, headers=coordinator, json={"member_id": "casey", "role": "physician"})
        assert self_promoted.status_code == 403
        assert self_promoted.json()["detail"] == "only a supervisor assigns a prescribing role"

        await i.post(f"/people/{person_id}/consents", json={
            "recipient_kind": "named_person", "recipient_id": "aunt-rosa", "categories": ["general"]})

        async def joined():
            response = await c.post(team, headers=coordinator, json=join)
            return response.status_code == 201

        await eventually(joined, what="the consent to let the aunt join")
