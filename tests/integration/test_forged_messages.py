"""Only a service publishes its own events: forged or misattributed messages change nothing."""

from __future__ import annotations

import json
import uuid

import aio_pika
import aiormq
import pytest

from shared.messaging import PUBLISHED_BY_HEADER, REASON_HEADER
from tests.integration.test_event_flow import _when_len, register, timeline_of
from tests.support.polling import eventually
from tests.support.system import System, envelope

PHQ9_POSITIVE = {"item1": 3, "item2": 3, "item3": 2, "item4": 2, "item5": 1, "item6": 1, "item7": 0,
                 "item8": 0, "item9": 0}


async def _due(client, person_id: str, count: int) -> list[dict] | None:
    response = await client.get(f"/people/{person_id}/notifications")
    due = response.json()["due"] if response.status_code == 200 else []
    return due if len(due) >= count else None


async def test_a_forged_event_claiming_a_persons_next_sequence_and_position_never_displaces_the_real_one(
        system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications")
    tap = await system.tap("intake.#")
    async with (system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c,
                system.client(notifications, "auditor") as n):
        person_id = await register(i)
        [registered] = await system.collect(tap, 1, what="registration published")
        await eventually(lambda: _when_len(timeline_of(c, person_id), 1), what="registration applied")
        await eventually(lambda: _due(n, person_id, 1), what="registration notice")

        # Exactly what intake's next event will be called: the person's next sequence and the
        # next position in intake's log, but published by someone holding guest's credentials.
        next_position = await intake.run_sync(intake.application.recorder.max_notification_id) + 1
        forged_id = str(uuid.uuid4())
        forged = envelope(registered) | {
            "event_id": forged_id, "type": "carecoord.intake.screening_completed", "person_sequence": 2,
            "position": next_position, "payload": {"instrument": "PHQ-9"},
        }
        await system.publish_raw(json.dumps(forged).encode(), "intake.screening_completed")
        dead = [*await system.collect("careplan", 1, what="careplan to refuse the forgery"),
                *await system.collect("notifications", 1, what="notifications to refuse the forgery")]
        assert [envelope(m)["event_id"] for m in dead] == [forged_id, forged_id]
        for message in dead:
            assert "not published by intake" in message.headers[REASON_HEADER]

        response = await i.post(f"/people/{person_id}/screenings",
                                json={"instrument": "PHQ-9", "answers": PHQ9_POSITIVE})
        assert response.status_code == 201, response.text
        entries = await eventually(lambda: _when_len(timeline_of(c, person_id), 2), what="the real screening")
        assert [(e["sequence"], e["kind"]) for e in entries] == [(1, "person_registered"), (2, "screening_scored")]
        due = await eventually(lambda: _due(n, person_id, 2), what="the real screening's notice")
        assert [d["kind"] for d in due] == ["person_registered", "screening_positive"]
    assert await system.dead_letters("careplan") == [] and await system.dead_letters("notifications") == []


async def test_a_service_cannot_publish_another_services_events_or_under_another_user(system: System):
    intake = await system.start_connected("intake")
    channel = await system.service_channel("intake")
    exchange = await channel.get_exchange("carecoord.events")
    own = aio_pika.Message(b"{}", user_id=system.broker_user("intake"))
    assert await exchange.publish(own, routing_key="intake.person_registered")

    with pytest.raises(aiormq.exceptions.ChannelAccessRefused, match="careplan.care_team.formed"):
        await exchange.publish(own, routing_key="careplan.care_team.formed")

    channel = await system.service_channel("intake")
    exchange = await channel.get_exchange("carecoord.events")
    as_careplan = aio_pika.Message(b"{}", user_id=system.broker_user("careplan"))
    with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed, match="user_id"):
        await exchange.publish(as_careplan, routing_key="intake.person_registered")
    # The service itself publishes as the user it connects as: its events still flow.
    tap = await system.tap("intake.#")
    async with system.client(intake, "agency_system") as i:
        await register(i)
    [published] = await system.collect(tap, 1, what="intake's own event")
    assert published.user_id == system.broker_user("intake")


async def test_an_envelope_whose_source_is_not_its_publisher_is_dead_lettered_with_the_reason(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    tap = await system.tap("intake.#")
    async with system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c:
        person_id = await register(i)
        [registered] = await system.collect(tap, 1, what="registration published")
        await eventually(lambda: _when_len(timeline_of(c, person_id), 1), what="registration applied")

        def next_event(**changes) -> bytes:
            return json.dumps(envelope(registered) | {
                "event_id": str(uuid.uuid4()), "person_sequence": 2, "position": 1000, **changes}).encode()

        # Intake's user, allowed intake's routing keys, naming careplan as the source (and its stream).
        await system.publish_raw(next_event(source="careplan", stream="careplan.care_team"),
                                 "intake.person_registered", as_service="intake")
        # Intake as the source, but published by careplan's user (straight into careplan's inbox,
        # past the events exchange's topic permissions).
        channel = await system.service_channel("careplan")
        await channel.default_exchange.publish(
            aio_pika.Message(next_event(), user_id=system.broker_user("careplan")), routing_key="careplan.inbox")
        # Intake's own user, but claiming another service's stream.
        await system.publish_raw(next_event(stream="careplan.care_team"), "intake.person_registered",
                                 as_service="intake")
        # No user_id at all, and one claiming in a header to be intake's, as a retried message may.
        await system.publish_raw(next_event(), "intake.person_registered")
        await system.publish_raw(next_event(), "intake.person_registered",
                                 headers={PUBLISHED_BY_HEADER: system.broker_user("intake")})

        dead = await system.collect("careplan", 5, what="five refusals")
        reasons = [m.headers[REASON_HEADER] for m in dead]
        intake_user, careplan_user = system.broker_user("intake"), system.broker_user("careplan")
        assert sorted(reason.removeprefix("NotFromSource: ") for reason in reasons) == sorted([
            f"not published by careplan: published by broker user {intake_user!r}",
            f"not published by intake: published by broker user {careplan_user!r}",
            "intake does not publish stream careplan.care_team",
            "not published by intake: the message names no user_id",
            "not published by intake: the message names no user_id",
        ])
        # Nothing of them reached the person's history, and the real next event still applies.
        response = await i.post(f"/people/{person_id}/screenings", json={"instrument": "GAD-7", "answers": {"item1": 0}})
        assert response.status_code == 201, response.text
        entries = await eventually(lambda: _when_len(timeline_of(c, person_id), 2), what="the real next event")
        assert [e["sequence"] for e in entries] == [1, 2]


async def test_intake_republishing_an_applied_event_under_another_id_is_dead_lettered_and_the_applied_one_stands(
        system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    tap = await system.tap("intake.#")
    async with system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c:
        person_id = await register(i)
        [registered] = await system.collect(tap, 1, what="registration published")
        await eventually(lambda: _when_len(timeline_of(c, person_id), 1), what="registration applied")

        changed = envelope(registered) | {"event_id": str(uuid.uuid4()), "position": 1000,
                                          "payload": envelope(registered)["payload"] | {"preferred_name": "Not Sam"}}
        await system.publish_raw(json.dumps(changed).encode(), "intake.person_registered", as_service="intake")
        [dead] = await system.collect("careplan", 1, what="the changed republish refused")
        assert dead.headers[REASON_HEADER] == (
            f"ConflictingEvent: intake.person/1 is event {changed['event_id']} here, but event "
            f"{envelope(registered)['event_id']} was applied at that sequence: a forgery or a republish with a "
            "changed id; the applied event stands")

        response = await i.post(f"/people/{person_id}/screenings", json={"instrument": "GAD-7", "answers": {"item1": 0}})
        assert response.status_code == 201, response.text
        entries = await eventually(lambda: _when_len(timeline_of(c, person_id), 2), what="the next real event")
        assert [(e["sequence"], e["kind"]) for e in entries] == [(1, "person_registered"), (2, "screening_scored")]
