"""Care-team apps: registered by a supervisor for named members, they verify deliveries across a
key rotation, catch up by sequence number after downtime, and get crises ahead of a backlog."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from standardwebhooks import Webhook

from tests.integration.webhook_support import SUPERVISOR, person_with_team, screen, start
from tests.support.polling import eventually
from tests.support.receiver import Received, receiving
from tests.support.system import System, bearer

APP = bearer("care_team_app", "ward-app-service", app="ward-app")
GAD7_POSITIVE = {f"item{n}": 2 for n in range(1, 8)}


async def register_app(n, url: str, **settings) -> dict:
    made = await n.post("/subscriptions", headers=SUPERVISOR, json={
        "url": url, "for_app": {"app": "ward-app", "members": ["casey"]}, **settings})
    assert made.status_code == 201, made.text
    return made.json()


async def test_an_app_verifies_across_a_rotation_and_catches_up_after_downtime(system: System):
    intake, careplan, notifications = await start(system)
    person_id = await person_with_team(system, intake, careplan, notifications, "app-1")
    async with receiving() as receiver, system.client(notifications) as n:
        made = await register_app(n, receiver.url, min_urgency="urgent")
        sid = made["subscription_id"]
        assert (await n.post("/subscriptions", headers=APP, json={"url": receiver.url})).status_code == 403
        assert [s["subscription_id"] for s in (await n.get("/subscriptions", headers=APP)).json()["subscriptions"]] == [sid]

        rotated = await n.post(f"/subscriptions/{sid}/secret-rotation", headers=APP)
        assert rotated.status_code == 201, rotated.text
        await screen(system, intake, person_id)
        [first] = await receiver.wait_for(1, "the crisis")
        assert len(first.headers["webhook-signature"].split(" ")) == 2  # both sign during the overlap
        for secret in (made["secret"], rotated.json()["secret"]):
            assert Webhook(secret).verify(first.body, first.headers)["sequence"] == 1

        # The app is down: deliveries fail, it comes back and asks for what it missed by number.
        receiver.answer = lambda _: (503, {}, 0.0)
        await screen(system, intake, person_id)
        await screen(system, intake, person_id)

        async def missed():
            found = (await n.get(f"/subscriptions/{sid}/events?after=1", headers=APP)).json()
            return found if found["events_since_start"] == 3 else None
        found = await eventually(missed, what="two more numbered events")
        assert [(e["sequence"], e["kind"], e["person_id"], e["withheld"]) for e in found["events"]] == [
            (2, "crisis", person_id, None), (3, "crisis", person_id, None)]
        outsider = await n.get(f"/subscriptions/{sid}/events", headers=bearer("care_team_app", "x", app="other-app"))
        assert outsider.status_code == 404


async def test_a_crisis_overtakes_a_backlog_of_routine_items_to_a_slow_receiver(system: System):
    intake, careplan, notifications = await start(system, webhook_concurrency=1)
    person_id = await person_with_team(system, intake, careplan, notifications, "app-2")
    arrivals: list[tuple[str, float]] = []

    def slow_for_routine(got: Received):
        urgency = got.json["urgency"]
        arrivals.append((urgency, asyncio.get_running_loop().time()))
        return 204, {}, (0.0 if urgency == "urgent" else 1.0)

    async with receiving() as receiver, system.client(notifications) as n:
        receiver.answer = slow_for_routine
        await register_app(n, receiver.url)
        for _ in range(4):
            await screen(system, intake, person_id, "GAD-7", GAD7_POSITIVE)  # routine, one at a time
        await receiver.wait_for(1, "the first routine item")
        await screen(system, intake, person_id)  # a positive (routine) and a crisis (urgent)
        await receiver.wait_for(6, "everything", timeout=60)
    kinds = [urgency for urgency, _ in arrivals]
    assert kinds.index("urgent") < 4, kinds  # not behind the backlog of routine items


async def test_quiet_hours_hold_routine_items_and_let_urgent_ones_through(system: System):
    intake, careplan, notifications = await start(system)
    person_id = await person_with_team(system, intake, careplan, notifications, "app-3")
    hour = datetime.now(UTC).hour
    async with receiving() as receiver, system.client(notifications) as n:
        made = await register_app(n, receiver.url, quiet_hours={"start_hour": hour, "end_hour": (hour + 2) % 24})
        await screen(system, intake, person_id)
        [urgent] = await receiver.wait_for(1, "the crisis, quiet hours or not")
        assert urgent.json["kind"] == "crisis"

        async def held():
            found = (await n.get(f"/subscriptions/{made['subscription_id']}/deliveries?status=pending",
                                 headers=APP)).json()["deliveries"]
            return found if found and found[0]["due_at"] > datetime.now(UTC).isoformat() else None
        [routine] = await eventually(held, what="the routine item to be held")
        assert routine["kind"] == "screening_positive" and routine["attempts"] == 0
        assert len(receiver.received) == 1
