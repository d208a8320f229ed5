"""Every webhook delivery is checked against its owner's access when it goes: consent directives
decide what a support person is sent, a member who left the team stops receiving, and what is
withheld is recorded as suppressed with the reason."""

from __future__ import annotations

from standardwebhooks import Webhook

from tests.integration.webhook_support import CASEY, SUPERVISOR, person_with_team, screen, start
from tests.support.polling import eventually
from tests.support.receiver import receiving
from tests.support.system import System, bearer

AUNT = bearer("support_person", "aunt-rosa")
AUDIT_C_POSITIVE = {"item1": 2, "item2": 1, "item3": 1}


async def statuses(n, subscription_id: str, headers) -> list[tuple[int, str, str, str | None]]:
    response = await n.get(f"/subscriptions/{subscription_id}/deliveries", headers=headers)
    return [(d["sequence"], d["kind"], d["status"], d["last_result"]) for d in response.json()["deliveries"]]


async def settled(n, subscription_id: str, headers, count: int):
    async def done():
        found = await statuses(n, subscription_id, headers)
        return found if len(found) >= count and all(s != "pending" for _, _, s, _ in found) else None
    return await eventually(done, what=f"{count} deliveries to settle")


async def test_consent_decides_what_a_support_person_is_sent_and_revocation_stops_it(system: System):
    intake, careplan, notifications = await start(system)
    person_id = await person_with_team(system, intake, careplan, notifications, "hook-consent")
    async with receiving() as receiver, system.client(notifications) as n, \
            system.client(intake, "agency_system") as i:
        made = (await n.post("/subscriptions", headers=AUNT,
                             json={"url": receiver.url, "content": "summary"})).json()
        sid = made["subscription_id"]
        await screen(system, intake, person_id)  # positive (mental health) and a crisis: no consent yet
        assert await settled(n, sid, AUNT, 2) == [
            (1, "screening_positive", "suppressed",
             "no consent directive of the person shares mental_health information with this recipient now"),
            (2, "crisis", "suppressed",
             "no consent directive of the person shares crisis information with this recipient now")]

        granted = await i.post(f"/people/{person_id}/consents", json={
            "recipient_kind": "named_person", "recipient_id": "aunt-rosa", "categories": ["crisis", "mental_health"]})
        assert granted.status_code == 201, granted.text
        directive_id = granted.json()["directive_id"]

        async def consent_known():  # the crisis, replayed, goes once notifications has the directive
            await n.post(f"/subscriptions/{sid}/replay", headers=AUNT, json={"sequence": 2})
            return receiver.received or None
        [crisis] = await eventually(consent_known, what="the consent to reach notifications")
        body = Webhook(made["secret"]).verify(crisis.body, crisis.headers)
        assert (body["sequence"], body["kind"]) == (2, "crisis")
        assert body["summary"]["category"] == "crisis" and "suicide risk" in body["summary"]["message"]

        # Substance use is never sent without a directive naming it, even with others in force.
        await screen(system, intake, person_id, "AUDIT-C", AUDIT_C_POSITIVE)
        found = await settled(n, sid, AUNT, 3)
        assert found[2][1:] == ("screening_positive", "suppressed",
                                "no consent directive of the person shares substance_use information with this recipient now")

        revoked = await i.post(f"/people/{person_id}/consents/{directive_id}/revocation", json={})
        assert revoked.status_code in (200, 201), revoked.text

        async def revocation_known():
            await n.post(f"/subscriptions/{sid}/replay", headers=AUNT, json={"sequence": 2})
            found = await settled(n, sid, AUNT, 3)
            return found[1][2] == "suppressed" or None
        await eventually(revocation_known, what="the revocation to take effect")  # replayed, now suppressed


async def test_a_member_who_left_the_team_stops_receiving(system: System):
    intake, careplan, notifications = await start(system)
    person_id = await person_with_team(system, intake, careplan, notifications, "hook-leaver")
    async with receiving() as receiver, system.client(notifications) as n, system.client(careplan) as c:
        made = (await n.post("/subscriptions", headers=CASEY,
                             json={"url": receiver.url, "min_urgency": "urgent"})).json()
        await screen(system, intake, person_id)
        await receiver.wait_for(1, "the crisis while on the team")

        removed = await c.delete(f"/people/{person_id}/team/casey", headers=SUPERVISOR)
        assert removed.status_code in (204, 404), removed.text
        if removed.status_code == 404:  # a supervisor joins a team before removing from it
            await c.post(f"/people/{person_id}/team", headers=SUPERVISOR,
                         json={"member_id": "sam-supervisor", "role": "care_coordinator"})
            assert (await c.delete(f"/people/{person_id}/team/casey", headers=SUPERVISOR)).status_code == 204

        async def gone():
            response = await n.get(f"/people/{person_id}/notifications", headers=CASEY)
            return response.status_code == 404
        await eventually(gone, what="notifications to hear casey left")

        await screen(system, intake, person_id)
        found = await settled(n, made["subscription_id"], CASEY, 2)
        assert found[1][2:] == ("suppressed", "not on the person's care team")
        assert len(receiver.received) == 1
