"""Webhook subscriptions on notifications: deliveries signed as Standard Webhooks says, verified
here as a receiver would (the `standardwebhooks` package), to real local HTTP receivers."""

from __future__ import annotations

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.integration.webhook_support import CASEY, FAST, person_with_team, screen, start
from tests.support.polling import eventually
from tests.support.receiver import receiving
from tests.support.system import System, bearer


async def test_a_team_member_is_sent_signed_thin_deliveries_in_order(system: System):
    intake, careplan, notifications = await start(system)
    person_id = await person_with_team(system, intake, careplan, notifications, "hook-1")
    async with receiving() as receiver, system.client(notifications) as n:
        made = await n.post("/subscriptions", headers=CASEY, json={"url": receiver.url})
        assert made.status_code == 201, made.text
        subscription = made.json()
        assert subscription["secret"].startswith("whsec_") and subscription["content"] == "id-only"
        await screen(system, intake, person_id)

        got = await receiver.wait_for(2, "the positive screening and the crisis")
        bodies = [Webhook(subscription["secret"]).verify(r.body, r.headers) for r in got]
        assert sorted((b["sequence"], b["kind"], b["urgency"]) for b in bodies) == [
            (1, "screening_positive", "routine"), (2, "crisis", "urgent")]
        crisis = next(b for b in bodies if b["kind"] == "crisis")
        assert crisis["person_id"] == person_id and crisis["subscription_id"] == subscription["subscription_id"]
        assert crisis["links"]["notifications"] == f"https://notifications.example/people/{person_id}/notifications"
        assert "summary" not in crisis and "message" not in str(crisis)  # thin: no words at all
        assert {r.headers["webhook-id"] for r in got} and len({r.headers["webhook-id"] for r in got}) == 2

        forged = dict(got[0].headers, **{"webhook-signature": "v1,AAAA"})
        try:
            Webhook(subscription["secret"]).verify(got[0].body, forged)
            raise AssertionError("a wrong signature verified")
        except WebhookVerificationError:
            pass

        async def both_recorded_as_delivered():
            # The receiver has the body before notifications has recorded the attempt's answer.
            delivered = await n.get(f"/subscriptions/{subscription['subscription_id']}/deliveries?status=delivered",
                                    headers=CASEY)
            sequences = [d["sequence"] for d in delivered.json()["deliveries"]]
            return sequences if len(sequences) >= 2 else None
        assert await eventually(both_recorded_as_delivered, what="both attempts recorded") == [1, 2]
        someone_else = await n.get(f"/subscriptions/{subscription['subscription_id']}",
                                   headers=bearer("care_coordinator", "riley"))
        assert someone_else.status_code == 404


async def test_deliveries_to_a_receiver_reuse_its_connection(system: System):
    """Each delivery opening a TCP connection of its own cost notifications (and the receiver)
    CPU at every notice: an answer without a body leaves the connection open for the next."""
    intake, careplan, notifications = await start(system)
    person_id = await person_with_team(system, intake, careplan, notifications, "hook-keep-alive")
    async with receiving() as receiver, system.client(notifications) as n:
        made = await n.post("/subscriptions", headers=CASEY, json={"url": receiver.url, "min_urgency": "urgent"})
        assert made.status_code == 201, made.text
        for count in (1, 2, 3):  # one crisis lane: each delivery after the one before has been answered
            await screen(system, intake, person_id)
            got = await receiver.wait_for(count, "the crises")
        assert len(got) == 3
        assert len({r.client for r in got}) == 1, [r.client for r in got]


async def test_retries_keep_the_webhook_id_honour_retry_after_and_park_after_the_last(system: System):
    intake, careplan, notifications = await start(system)
    person_id = await person_with_team(system, intake, careplan, notifications, "hook-2")
    answers = iter([(500, {}, 0.0), (503, {"retry-after": "1"}, 0.0)])
    async with receiving() as receiver, system.client(notifications) as n:
        receiver.answer = lambda _: next(answers, (204, {}, 0.0))
        made = (await n.post("/subscriptions", headers=CASEY,
                             json={"url": receiver.url, "kinds": ["crisis"]})).json()
        await screen(system, intake, person_id)
        got = await receiver.wait_for(3, "two failures and a success")
        assert len({r.headers["webhook-id"] for r in got}) == 1  # the same message, retried
        for r in got:
            Webhook(made["secret"]).verify(r.body, r.headers)
        assert int(got[2].headers["webhook-timestamp"]) - int(got[1].headers["webhook-timestamp"]) >= 1  # Retry-After

        # Now a receiver that always fails: after the last retry the delivery is parked.
        receiver.answer = lambda _: (500, {}, 0.0)
        await screen(system, intake, person_id)
        path = f"/subscriptions/{made['subscription_id']}/deliveries?status=parked"

        async def parked():
            found = (await n.get(path, headers=CASEY)).json()["deliveries"]
            return found or None
        [item] = await eventually(parked, what="the delivery to be parked")
        assert item["sequence"] == 2 and item["attempts"] == 4 and "gave up after 4 attempts: last 500" in item["last_result"]
        assert (await n.get(f"/subscriptions/{made['subscription_id']}", headers=CASEY)).json()["failing_since"]

        receiver.answer = lambda _: (200, {}, 0.0)
        before = len(receiver.received)
        replayed = await n.post(f"/subscriptions/{made['subscription_id']}/replay", headers=CASEY,
                                json={"since": "2000-01-01T00:00:00Z"})
        assert replayed.status_code == 200 and replayed.json()["requeued"] == [2]
        [again] = (await receiver.wait_for(before + 1, "the replay"))[before:]
        assert Webhook(made["secret"]).verify(again.body, again.headers)["sequence"] == 2

        async def recovered():
            return (await n.get(f"/subscriptions/{made['subscription_id']}", headers=CASEY)).json()["failing_since"] is None
        await eventually(recovered, what="a success to end the failing spell")


async def test_a_410_disables_the_subscription(system: System):
    intake, careplan, notifications = await start(system)
    person_id = await person_with_team(system, intake, careplan, notifications, "hook-3")
    async with receiving() as receiver, system.client(notifications) as n:
        receiver.answer = lambda _: (410, {}, 0.0)
        made = (await n.post("/subscriptions", headers=CASEY, json={"url": receiver.url, "min_urgency": "urgent"})).json()
        await screen(system, intake, person_id)
        path = f"/subscriptions/{made['subscription_id']}"

        async def disabled():
            found = (await n.get(path, headers=CASEY)).json()
            return found if found["status"] == "disabled" else None
        found = await eventually(disabled, what="the 410 to disable the subscription")
        assert "410" in found["disabled_reason"]
        assert len(receiver.received) == 1  # gone: not retried
        deliveries = (await n.get(f"{path}/deliveries", headers=CASEY)).json()["deliveries"]
        assert [(d["kind"], d["status"], d["last_result"]) for d in deliveries] == [("crisis", "pending", "410")]



async def test_a_restart_neither_skips_nor_repeats_a_match(system: System):
    intake, careplan, notifications = await start(system)
    person_id = await person_with_team(system, intake, careplan, notifications, "hook-restart")
    async with receiving() as receiver:
        async with system.client(notifications) as n:
            made = (await n.post("/subscriptions", headers=CASEY,
                                 json={"url": receiver.url, "min_urgency": "urgent"})).json()
        await screen(system, intake, person_id)
        await receiver.wait_for(1, "the first crisis")
        await system.stop(notifications)
        for _ in range(2):
            await screen(system, intake, person_id)  # waits in notifications' inbox meanwhile
        notifications = await system.start_connected("notifications", **FAST)
        got = await receiver.wait_for(3, "the crises recorded while notifications was down")
        async with system.client(notifications) as n:
            found = (await n.get(f"/subscriptions/{made['subscription_id']}/events", headers=CASEY)).json()
    assert found["events_since_start"] == 3 and [e["sequence"] for e in found["events"]] == [1, 2, 3]
    assert sorted({Webhook(made["secret"]).verify(r.body, r.headers)["sequence"] for r in got}) == [1, 2, 3]


async def test_a_receiver_that_does_not_answer_in_time_is_retried(system: System):
    intake, careplan, notifications = await start(system, webhook_timeout=0.5)
    person_id = await person_with_team(system, intake, careplan, notifications, "hook-slow")
    answers = iter([(204, {}, 2.0)])
    async with receiving() as receiver, system.client(notifications) as n:
        receiver.answer = lambda _: next(answers, (204, {}, 0.0))
        made = (await n.post("/subscriptions", headers=CASEY, json={"url": receiver.url, "min_urgency": "urgent"})).json()
        await screen(system, intake, person_id)
        path = f"/subscriptions/{made['subscription_id']}/deliveries?status=delivered"

        async def delivered():
            return (await n.get(path, headers=CASEY)).json()["deliveries"] or None
        [item] = await eventually(delivered, what="the retry after a timeout")
    timed_out, succeeded = item["history"]
    assert (timed_out["status_code"], timed_out["error"]) == (None, "timeout") and timed_out["latency_ms"] >= 500
    assert (succeeded["status_code"], succeeded["error"]) == (204, None)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
