"""An Idempotency-Key names one request: the same again is a repeat, another request under it is 422."""

from __future__ import annotations

import json

import pytest

from shared.messaging import REASON_HEADER
from tests.integration.test_agency_commands_amqp import AGENCY_TOKEN, send
from tests.support.system import TEST_AGENCY, System

CONTACT = {"kind": "crisis_line_call", "occurred_at": "2026-11-20T16:00:00Z", "location": "phone",
           "responders": [], "outcome": "resolved_in_community"}


@pytest.fixture
async def intake(system: System):
    service = await system.start("intake")
    async with system.client(service, "agency_system") as client:
        yield client


async def person(intake, record: str) -> str:
    response = await intake.post("/people", json={"agency": TEST_AGENCY, "agency_person_id": record,
                                                  "preferred_name": "Jordan"})
    return response.json()["person_id"]


@pytest.mark.parametrize(("endpoint", "first", "other"), [
    ("screenings", {"instrument": "GAD-7", "answers": {"item1": 2}}, {"instrument": "GAD-7", "answers": {"item1": 3}}),
    ("crisis-contacts", CONTACT, {**CONTACT, "what_helped": "a later, different contact"}),
    ("consents", {"recipient_kind": "care_team", "categories": ["general"]},
     {"recipient_kind": "care_team", "categories": ["general", "substance_use"]}),
])
async def test_a_key_reused_for_another_request_is_422_and_records_nothing(intake, endpoint, first, other):
    person_id = await person(intake, f"key-{endpoint}")
    path, key = f"/people/{person_id}/{endpoint}", {"Idempotency-Key": "visit-1"}
    recorded = await intake.post(path, json=first, headers=key)
    reused = await intake.post(path, json=other, headers=key)
    repeated = await intake.post(path, json=first, headers=key)
    assert (recorded.status_code, reused.status_code, repeated.status_code) == (201, 422, 200), reused.text
    [error] = reused.json()["detail"]
    assert error["loc"] == ["header", "Idempotency-Key"]
    assert "different request" in error["msg"]
    assert repeated.json() == recorded.json(), "the first request's result stands"


async def test_a_message_id_reused_for_another_command_is_dead_lettered_with_the_reason(system: System):
    await system.start_connected("intake")
    channel = await system.channel()
    replies = await channel.declare_queue(exclusive=True)
    await send(system, {"command": "register_person", "agency": TEST_AGENCY, "agency_person_id": "amqp-key",
                        "preferred_name": "Noor"}, AGENCY_TOKEN, reply_to=replies.name)
    [registered] = await system.collect(replies, 1, what="registration receipt")
    screening = {"command": "record_screening", "person_id": json.loads(registered.body)["person_id"],
                 "instrument": "GAD-7", "answers": {"item1": 1}}
    await send(system, screening, AGENCY_TOKEN, message_id="msg-1", reply_to=replies.name)
    await system.collect(replies, 1, what="the first screening's receipt")
    await send(system, {**screening, "answers": {"item1": 2}}, AGENCY_TOKEN, message_id="msg-1")
    [dead] = await system.collect("intake.commands", 1, what="the reused message id, dead-lettered")
    reason = dead.headers[REASON_HEADER]
    assert "refused (422)" in reason and "Idempotency-Key" in reason and "different request" in reason
