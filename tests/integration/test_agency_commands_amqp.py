"""An agency publishing commands to intake over AMQP: same rules, idempotency and results as HTTP."""

from __future__ import annotations

import json
import uuid

import aio_pika

from shared.messaging import REASON_HEADER
from tests.integration.test_event_flow import _when_len, timeline_of
from tests.support.polling import eventually
from tests.support.system import TEST_AGENCY, System, token

AGENCY_TOKEN = {"authorization": f"Bearer {token('agency_system')}"}


async def send(system: System, body: dict, headers: dict, message_id: str | None = None,
               reply_to: str | None = None) -> None:
    channel = await system.channel()
    exchange = await channel.get_exchange("carecoord.commands")
    await exchange.publish(aio_pika.Message(json.dumps(body).encode(), headers=headers, reply_to=reply_to,
                                            message_id=message_id or str(uuid.uuid4()), delivery_mode=2,
                                            content_type="application/json"), routing_key="intake")
    await channel.close()


async def test_an_agency_registers_and_screens_over_amqp_and_gets_receipts(system: System):
    await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    channel = await system.channel()
    replies = await channel.declare_queue(exclusive=True)

    await send(system, {"command": "register_person", "agency": TEST_AGENCY, "agency_person_id": "amqp-1",
                        "preferred_name": "Noor"}, AGENCY_TOKEN, reply_to=replies.name)
    [registered] = await system.collect(replies, 1, what="registration receipt")
    person_id = json.loads(registered.body)["person_id"]

    screening = {"command": "record_screening", "person_id": person_id, "instrument": "GAD-7",
                 "answers": {f"item{n}": 3 for n in range(1, 8)}}
    for _ in range(2):  # the broker redelivers: same message id, recorded once
        await send(system, screening, AGENCY_TOKEN, message_id="agency-msg-77", reply_to=replies.name)
    receipts = [json.loads(m.body) for m in await system.collect(replies, 2, what="screening receipts")]
    assert receipts[0] == receipts[1]
    assert (receipts[0]["result"]["total"], receipts[0]["result"]["band"]) == (21, "severe")

    async with system.client(careplan, "auditor") as c:
        entries = await eventually(lambda: _when_len(timeline_of(c, person_id), 2), what="applied by careplan")
    assert [e["kind"] for e in entries] == ["person_registered", "screening_scored"]


async def test_refused_or_invalid_commands_are_dead_lettered_with_the_reason_and_the_next_is_processed(system: System):
    intake = await system.start_connected("intake")
    other_agency = {"authorization": f"Bearer {token('agency_system', agency='south-clinic')}"}
    register = {"command": "register_person", "agency": TEST_AGENCY, "agency_person_id": "amqp-2",
                "preferred_name": "Lee"}
    await send(system, register, {})
    await send(system, register, {"authorization": "Bearer forged"})
    await send(system, register, other_agency)
    await send(system, {**register, "command": "delete_everything"}, AGENCY_TOKEN)
    await send(system, {"command": "record_screening", "person_id": str(uuid.uuid4()), "instrument": "PHQ-9",
                        "answers": {"item1": 1}}, AGENCY_TOKEN)
    await send(system, register, AGENCY_TOKEN)

    dead = await system.collect("intake.commands", 5, what="five dead letters")
    reasons = [m.headers[REASON_HEADER] for m in dead]
    assert "refused (401): a bearer token is required" in reasons[0]
    assert "refused (401): invalid token" in reasons[1]
    assert "refused (403): an agency system registers people for its own agency only" in reasons[2]
    assert reasons[3].startswith("command: Input tag 'delete_everything' found using 'command' does not match")
    assert "refused (404): not found" in reasons[4]

    async with system.client(intake, "agency_system") as i:
        async def registered():
            response = await i.post("/people", json={"agency": TEST_AGENCY, "agency_person_id": "amqp-2",
                                                     "preferred_name": "Lee"})
            return response.status_code == 200  # already registered by the last, good command
        await eventually(registered, what="the good command after the bad ones")
