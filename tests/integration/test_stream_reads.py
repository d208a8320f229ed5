"""What the live stream (GET /stream) sends about a person is a read of their record: recorded in
notifications' store, one record per person per batch naming the events, before the events reach
the client; a stream whose reads cannot be recorded sends nothing of them and ends. The pages of a
webhook subscription that name people are recorded the same way."""

from __future__ import annotations

import asyncio
import uuid

import psycopg

from shared.access_recording import recorded_accesses
from shared.access_records import AccessRecord
from shared.runtime import Service
from tests.integration.test_notice_stream import crisis_contact, due, on_team, register
from tests.integration.webhook_support import CASEY, person_with_team, screen, start
from tests.support.receiver import receiving
from tests.support.serving import serving
from tests.support.sse import event_stream_with as stream
from tests.support.system import System, bearer

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def stream_records(notifications: Service, person_id: str) -> list[AccessRecord]:
    found = await asyncio.to_thread(recorded_accesses, notifications.application, uuid.UUID(person_id))
    return [record for record in found if record.resource == "notice stream"]


async def test_each_event_is_recorded_as_a_read_before_it_reaches_the_client(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications")
    async with system.client(intake) as i, system.client(careplan) as c, system.client(notifications) as n:
        person_id = await register(i, "stream-reads-1")
        await on_team(c, n, person_id, "casey")
        await crisis_contact(i, person_id)
        headers = {**bearer("clinician", "casey"), "Last-Event-ID": "0", "X-Purpose-Of-Use": "COC",
                   "X-Correlation-Id": "ward-round-7", "traceparent": TRACEPARENT}
        async with serving(notifications) as address, stream(address, headers) as casey:
            assert casey.response.status_code == 200
            received = await casey.until(2, "the registration and the crisis notice")
            # Read as soon as they arrived, without waiting: each was recorded before it was sent.
            records = await stream_records(notifications, person_id)
            named = {item for record in records for item in record.items}
            assert {f"{event.id}:{event.data['kind']}" for event in received} <= named
            record = records[0]
            assert (record.reader_id, record.reader_role, record.route, record.outcome.value, record.status,
                    record.purpose, record.correlation_id) == (
                "casey", "clinician", "/stream", "allowed", 200, "COC", "ward-round-7")
            assert record.trace_id == TRACEPARENT.split("-")[1]

            # A later event is recorded before it arrives too; one record per person per batch.
            await crisis_contact(i, person_id)
            [*_, latest] = await casey.until(3, "the next crisis notice")
            records = await stream_records(notifications, person_id)
            assert f"{latest.id}:crisis_follow_up" in {item for record in records for item in record.items}
            assert len(records) <= 3

        # An auditor sees these reads in the person's history.
        history = await n.get(f"/audit/people/{person_id}/history", headers=bearer("auditor", "ada"))
        assert history.status_code == 200, history.text
        streamed = [line for line in history.json()["items"] if line["data"].get("resource") == "notice stream"]
        assert streamed and all(line["actor_id"] == "casey" for line in streamed)


async def test_a_stream_whose_reads_cannot_be_recorded_sends_nothing_of_them_and_ends(system: System, isolation):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications", access_record_timeout=1.0)
    async with system.client(intake) as i, system.client(careplan) as c, system.client(notifications) as n:
        person_id = await register(i, "stream-reads-2")
        await on_team(c, n, person_id, "casey")
        await crisis_contact(i, person_id)
        await due(n, person_id, 2, "casey")
        async with serving(notifications) as address:
            # The store takes no writes (another session holds the lock every write needs) and
            # still answers reads: recording is all that fails.
            with psycopg.connect(isolation.database_url) as blocker:
                blocker.execute("LOCK TABLE notifications.notifications_events IN EXCLUSIVE MODE")
                async with stream(address, {**bearer("clinician", "casey"), "Last-Event-ID": "0"}) as refused:
                    assert refused.response.status_code == 200
                    await asyncio.wait_for(refused.ended(), timeout=15)  # the stream ends by itself
                    assert refused.events == []  # and sent nothing of what it could not record
                blocker.rollback()

            # Once writes are taken again, a reconnect from the same place is sent (and recorded).
            async with stream(address, {**bearer("clinician", "casey"), "Last-Event-ID": "0"}) as resumed:
                received = await resumed.until(2, "the notices, recorded this time")
            named = {item for record in await stream_records(notifications, person_id) for item in record.items}
            assert {f"{event.id}:{event.data['kind']}" for event in received} <= named


async def test_a_subscriptions_deliveries_and_missed_events_are_recorded_as_reads_of_the_people_they_name(
        system: System):
    """Two more pages that name people and notices: the deliveries of a webhook subscription, which
    a supervisor may list for any subscription, and the events an app missed."""
    intake, careplan, notifications = await start(system)
    person_id = await person_with_team(system, intake, careplan, notifications, "hook-reads")
    async with receiving() as receiver, system.client(notifications) as n:
        made = (await n.post("/subscriptions", headers=CASEY, json={"url": receiver.url})).json()
        await screen(system, intake, person_id)
        await receiver.wait_for(2, "the positive screening and the crisis")
        path = f"/subscriptions/{made['subscription_id']}"

        supervisor = {**bearer("supervisor", "sam-supervisor"), "X-Purpose-Of-Use": "HOPERAT"}
        listed = await n.get(f"{path}/deliveries", headers=supervisor)
        assert listed.status_code == 200, listed.text
        [record] = [r for r in await records(notifications, person_id) if r.resource == "webhook deliveries"]
        assert (record.reader_id, record.reader_role, record.route, record.purpose) == (
            "sam-supervisor", "supervisor", "/subscriptions/{subscription_id}/deliveries", "HOPERAT")
        assert record.items == tuple(f"{d['sequence']}:{d['kind']}" for d in listed.json()["deliveries"])

        missed = await n.get(f"{path}/events", headers=CASEY)
        assert missed.status_code == 200, missed.text
        [record] = [r for r in await records(notifications, person_id) if r.resource == "missed webhook events"]
        assert (record.reader_id, record.purpose) == ("casey", "TREAT") and len(record.items) == 2


async def records(notifications: Service, person_id: str) -> list[AccessRecord]:
    return await asyncio.to_thread(recorded_accesses, notifications.application, uuid.UUID(person_id))
