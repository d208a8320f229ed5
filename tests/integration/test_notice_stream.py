"""The live stream (GET /stream) of a running notifications, read with a real SSE client: resumed
across a restart from the event store, and decided for each caller as each notice is sent."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import httpx

from tests.support.polling import eventually
from tests.support.serving import serving
from tests.support.sse import EventStream, event_stream
from tests.support.system import TEST_AGENCY, System, bearer, token
from tests.support.teams import join_team

AGENCY = bearer("agency_system")
SUPERVISOR = bearer("supervisor", "sam-supervisor")
# Occurred just now: its follow-up is due tomorrow, so the follow-up timer adds no reminders to
# the notices these tests count.
CRISIS_CONTACT = {"kind": "crisis_line_call", "location": "phone", "responders": [], "outcome": "resolved_in_community"}
GAD7_POSITIVE = {f"item{n}": 3 for n in range(1, 8)}


async def register(intake: httpx.AsyncClient, record: str) -> str:
    response = await intake.post("/people", headers=AGENCY, json={
        "agency": TEST_AGENCY, "agency_person_id": record, "preferred_name": "Sam"})
    assert response.status_code == 201, response.text
    return response.json()["person_id"]


async def crisis_contact(intake: httpx.AsyncClient, person_id: str) -> None:
    response = await intake.post(f"/people/{person_id}/crisis-contacts", headers=AGENCY, json={
        **CRISIS_CONTACT, "occurred_at": (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()})
    assert response.status_code == 201, response.text


async def on_team(careplan: httpx.AsyncClient, notifications: httpx.AsyncClient, person_id: str,
                  *members: str) -> None:
    """The members join the person's team, and notifications has heard of it."""
    for member in members:
        response = await join_team(careplan, person_id, member, "clinician", SUPERVISOR)
        assert response.status_code == 201, response.text

    async def known() -> bool:
        answers = [await notifications.get(f"/people/{person_id}/notifications", headers=bearer("clinician", member))
                   for member in members]
        return all(answer.status_code == 200 for answer in answers)

    await eventually(known, what="the team to reach notifications")


async def due(notifications: httpx.AsyncClient, person_id: str, count: int, member: str) -> list[dict]:
    """The person's due notices once there are `count` (as a member of the team sees them)."""
    async def enough() -> list[dict] | None:
        response = await notifications.get(f"/people/{person_id}/notifications", headers=bearer("clinician", member))
        found = response.json()["due"] if response.status_code == 200 else []
        return found if len(found) >= count else None

    return await eventually(enough, what=f"{count} notices due")


def check_ids(stream: EventStream) -> None:
    """Every event carries an id; heartbeats are comments without one."""
    assert all("id" in block.fields for block in stream.events)
    assert all(not block.fields for block in stream.blocks if not block.is_event)


async def test_a_client_resumes_across_a_restart_of_notifications_without_gaps_or_repeats(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications", stream_heartbeat_seconds=0.2)
    async with system.client(intake) as i, system.client(careplan) as c, system.client(notifications) as n:
        person_id = await register(i, "stream-restart")
        await on_team(c, n, person_id, "casey")
        await crisis_contact(i, person_id)
        await crisis_contact(i, person_id)
        async with serving(notifications) as address, event_stream(address, "clinician", "casey",
                                                                   last_event_id=0) as before:
            assert before.response.status_code == 200
            assert before.response.headers["content-type"].startswith("text/event-stream")
            await before.until(3, "notices before the restart")  # registration and two crisis contacts
            await eventually(lambda: _async(len(before.heartbeats) >= 2), what="heartbeats")
        check_ids(before)
        sent_before = before.events

    await system.stop(notifications)
    async with system.client(intake) as i:
        for _ in range(3):  # while notifications is down: they wait in its queue
            await crisis_contact(i, person_id)

    notifications = await system.start_connected("notifications")
    async with system.client(notifications) as n:
        everything = await due(n, person_id, 6, "casey")
        async with serving(notifications) as address, event_stream(address, "clinician", "casey",
                                                                   last_event_id=sent_before[-1].id) as after:
            assert after.response.status_code == 200
            await after.until(3, "notices after the restart")
        check_ids(after)

    sent = [*sent_before, *after.events]
    positions = [event.id for event in sent]
    assert positions == sorted(set(positions)), "strictly increasing: nothing repeated"
    assert [event.data["notification_id"] for event in sent] == [notice["notification_id"] for notice in everything]
    assert [event.data["kind"] for event in sent] == ["person_registered"] + ["crisis_follow_up"] * 5
    assert all(event.fields["event"] == "notification_due" for event in sent)
    assert all(set(event.data) == {"notification_id", "kind", "urgent", "audience", "category", "person_id",
                                   "due_at", "recorded_at", "links"} for event in sent), "no sentence, no content"
    assert sent[-1].data["links"] == {"notifications": f"/people/{person_id}/notifications"}


async def test_consent_and_team_membership_decide_each_notice_as_it_is_sent(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications")
    async with system.client(intake) as i, system.client(careplan) as c, system.client(notifications) as n:
        person_id, other_id = await register(i, "stream-consent-1"), await register(i, "stream-consent-2")
        directives = {}
        for someone in (person_id, other_id):
            granted = await i.post(f"/people/{someone}/consents", headers=AGENCY, json={
                "recipient_kind": "named_person", "recipient_id": "aunt-with-consent", "categories": ["crisis"]})
            assert granted.status_code == 201, granted.text
            directives[someone] = granted.json()["directive_id"]
        await on_team(c, n, person_id, "casey", "robin")
        await on_team(c, n, other_id, "casey")
        joined = await join_team(c, person_id, "sam-supervisor", "supervisor", SUPERVISOR)  # who removes casey
        assert joined.status_code == 201, joined.text

        async with (serving(notifications) as address,
                    event_stream(address, "support_person", "aunt-with-consent") as aunt,
                    event_stream(address, "clinician", "casey") as casey,
                    event_stream(address, "clinician", "robin") as robin):
            assert aunt.response.status_code == casey.response.status_code == robin.response.status_code == 200

            # Consent decides: the aunt is sent the crisis notice, not the mental-health one before it.
            screened = await i.post(f"/people/{person_id}/screenings", headers=AGENCY,
                                    json={"instrument": "GAD-7", "answers": GAD7_POSITIVE})
            assert screened.status_code == 201, screened.text
            await crisis_contact(i, person_id)
            [shared] = await aunt.until(1, "the shared crisis notice")
            assert (shared.data["person_id"], shared.data["kind"], shared.data["category"]) == (
                person_id, "crisis_follow_up", "crisis")
            assert shared.data["links"] == {"careplan": f"/people/{person_id}/shared"}
            assert [e.data["kind"] for e in await casey.until(2, "the team's notices")] == [
                "screening_positive", "crisis_follow_up"]

            # A revocation takes effect on the open stream: the next crisis notice is not sent...
            revoked = await i.post(f"/people/{person_id}/consents/{directives[person_id]}/revocation",
                                   headers=AGENCY, json={})
            assert revoked.status_code == 201, revoked.text
            await crisis_contact(i, person_id)  # after the revocation, in the person's order
            await casey.until(3, "the crisis notice after the revocation")
            await crisis_contact(i, other_id)  # ...while what the other directive shares still is
            await aunt.until(2, "the other person's notice")
            assert [e.data["person_id"] for e in aunt.events] == [person_id, other_id]

            # A member who leaves the team is no longer sent its notices.
            left = await c.delete(f"/people/{person_id}/team/casey", headers=SUPERVISOR)
            assert left.status_code == 204, left.text
            await eventually(lambda: _gone(n, person_id, "casey"), what="notifications to hear casey left")
            await crisis_contact(i, person_id)
            await robin.until(4, "the notice after casey left")
            await crisis_contact(i, other_id)
            await casey.until(4, "the other person's notice")
            assert [e.data["person_id"] for e in casey.events] == [person_id] * 3 + [other_id]
        for stream in (aunt, casey, robin):
            check_ids(stream)
        # What the aunt was sent is in each person's accounting of disclosures; the team's is not.
        for someone in (person_id, other_id):
            listed = await n.get(f"/audit/people/{someone}/disclosures", headers=bearer("auditor", "ada"))
            assert [(e["channel"], e["recipient"]["id"], e["parts"], e["consent_directives"])
                    for e in listed.json()["disclosures"]] == [
                ("stream", "aunt-with-consent", ["notice: crisis_follow_up"], [directives[someone]])]


async def test_refusals_at_connect_answer_before_any_stream_starts(system: System):
    """Roles never sent notices, and resume positions this service never gave: 4xx naming why."""
    notifications = await system.start_connected("notifications")
    async with serving(notifications) as (host, port), httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        for role in ("auditor", "agency_system"):
            refused = await client.get("/stream", headers=bearer(role))
            assert refused.status_code == 403, refused.text
        for hostile in ("not-a-number", "-5", "1" * 40, "12345"):
            refused = await client.get("/stream", headers={**bearer("clinician", "casey"), "Last-Event-ID": hostile})
            assert refused.status_code == 422, refused.text
            assert refused.json()["detail"][0]["loc"] == ["header", "Last-Event-ID"]
        # A stream lasts as long as the token it was opened on: then it ends, and a reconnect
        # needs a fresh token.
        short_lived = {"Authorization": f"Bearer {token('clinician', 'casey', lifetime_seconds=2)}"}
        async with client.stream("GET", "/stream", headers=short_lived) as response:
            assert response.status_code == 200
            await asyncio.wait_for(response.aread(), timeout=10)


async def _gone(notifications: httpx.AsyncClient, person_id: str, member: str) -> bool:
    response = await notifications.get(f"/people/{person_id}/notifications", headers=bearer("clinician", member))
    return response.status_code == 404


async def _async(value: bool) -> bool:
    return value
