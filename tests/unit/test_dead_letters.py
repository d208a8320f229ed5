"""What a parked message says, what its replay carries, and the command's arguments. The broker's
part (list, replay, crash between publish and ack) is tested on RabbitMQ in
tests/integration/test_dead_letters.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from carecoord.cli import app
from carecoord.dead_letters import QUEUES, amqp_url_for, topologies
from shared.dead_letters import REPLAYS_HEADER, read_dead_letter, replay_message
from shared.messaging import (ATTEMPT_HEADER, ERROR_HEADER, FAILED_AT_HEADER, PUBLISHED_BY_HEADER, REASON_HEADER,
                              ROUTING_KEY_HEADER, SERVICE_HEADER)

OWN_USER, UPSTREAM_USER = "carecoord-careplan", "carecoord-intake"


def parked(headers: dict[str, Any], user_id: str | None = OWN_USER, routing_key: str = "careplan") -> Any:
    """A message as a basic.get from careplan.dead-letter returns it."""
    return SimpleNamespace(
        body=b'{"event_id": "e-1"}', headers=headers, user_id=user_id, routing_key=routing_key,
        message_id="e-1", correlation_id="corr-1", content_type="application/json", content_encoding=None,
        priority=None, reply_to="replies", timestamp=None, type="carecoord.intake.person_registered",
        app_id="intake")


PARKED_BY_CAREPLAN = {
    REASON_HEADER: "gave up after 4 retries: OutOfSequence: intake.person event 2 arrived before event 1",
    ERROR_HEADER: "OutOfSequence", SERVICE_HEADER: "careplan", FAILED_AT_HEADER: "2026-11-29T21:00:00+00:00",
    ROUTING_KEY_HEADER: "intake.person_registered", PUBLISHED_BY_HEADER: UPSTREAM_USER, ATTEMPT_HEADER: 4,
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
}


def test_a_message_the_consumer_parked_is_described_by_its_headers():
    letter = read_dead_letter(parked(PARKED_BY_CAREPLAN))
    assert letter.message_id == "e-1"
    assert letter.event_type == "carecoord.intake.person_registered"
    assert letter.routing_key == "intake.person_registered"
    assert letter.reason.startswith("gave up after 4 retries: OutOfSequence")
    assert (letter.dead_lettered_by, letter.published_by, letter.replays) == ("careplan", UPSTREAM_USER, 0)


def test_its_replay_keeps_body_ids_and_publisher_and_starts_its_retries_afresh():
    replay = replay_message(parked(PARKED_BY_CAREPLAN), OWN_USER)
    assert (replay.body, replay.message_id, replay.correlation_id) == (b'{"event_id": "e-1"}', "e-1", "corr-1")
    assert (replay.reply_to, replay.type, replay.content_type) == ("replies", "carecoord.intake.person_registered",
                                                                   "application/json")
    assert replay.user_id == OWN_USER and replay.headers[PUBLISHED_BY_HEADER] == UPSTREAM_USER
    assert replay.headers[ROUTING_KEY_HEADER] == "intake.person_registered"
    assert replay.headers["traceparent"] == PARKED_BY_CAREPLAN["traceparent"]
    assert replay.headers[REPLAYS_HEADER] == 1
    for dropped in (REASON_HEADER, ERROR_HEADER, SERVICE_HEADER, FAILED_AT_HEADER, ATTEMPT_HEADER):
        assert dropped not in replay.headers
    assert replay.delivery_mode == 2  # persistent


def test_a_message_rabbitmq_parked_at_the_delivery_limit_names_its_publisher_and_reason():
    # Most recent first; before it, the retry queue whose TTL had returned it to the inbox.
    x_death = [{"reason": "delivery_limit", "queue": "careplan.inbox", "count": 1, "exchange": "carecoord.events",
                "routing-keys": ["intake.screening_completed"]},
               {"reason": "expired", "queue": "careplan.retry.200ms", "count": 1, "exchange": "",
                "routing-keys": ["careplan.retry.200ms"]}]
    # RabbitMQ dead-letters the delivery as it was: published by intake's user, no reason header.
    message = parked({"x-death": x_death, "x-delivery-count": 20}, user_id=UPSTREAM_USER)
    letter = read_dead_letter(message)
    assert letter.reason == "delivery_limit (by RabbitMQ, from careplan.inbox)"
    assert (letter.routing_key, letter.published_by) == ("intake.screening_completed", UPSTREAM_USER)

    replay = replay_message(message, OWN_USER)
    assert (replay.user_id, replay.headers[PUBLISHED_BY_HEADER]) == (OWN_USER, UPSTREAM_USER)
    assert "x-death" not in replay.headers and "x-delivery-count" not in replay.headers
    assert replay.headers[ROUTING_KEY_HEADER] == "intake.screening_completed"


def test_a_message_that_named_no_publisher_is_not_made_authentic_by_replaying_it():
    replay = replay_message(parked({REASON_HEADER: "NotFromSource: ...", SERVICE_HEADER: "careplan",
                                    PUBLISHED_BY_HEADER: ""}), OWN_USER)
    assert replay.headers[PUBLISHED_BY_HEADER] == ""


def test_the_command_knows_every_consumed_queue():
    assert set(QUEUES) == set(topologies())
    assert [topologies()[name].dead_letter_name for name in QUEUES] == [
        "careplan.dead-letter", "notifications.dead-letter", "intake.dead-letter", "intake.commands.dead-letter"]


@pytest.mark.parametrize("args", [
    ["replay", "careplan"],
    ["replay", "careplan", "--all", "--id", "e-1"],
    ["list", "billing"],
], ids=["neither --id nor --all", "both", "unknown queue"])
def test_the_command_refuses_before_touching_the_broker(args):
    result = CliRunner().invoke(app, ["dead-letters", *args], env={"AMQP_URL": "amqp://nobody@127.0.0.1:1/"})
    assert result.exit_code == 2, result.output
    assert result.stdout == ""


def test_it_connects_as_the_consuming_service_does():
    careplan, commands = topologies()["careplan"], topologies()["intake.commands"]
    # Nothing set: the user `carecoord run` gives the service on the local broker.
    assert amqp_url_for(careplan, {}).startswith("amqp://carecoord-careplan:")
    assert amqp_url_for(commands, {}).startswith("amqp://carecoord-intake:")
    in_compose = {"AMQP_URL": "amqp://carecoord-careplan:secret@rabbitmq:5672/"}
    assert amqp_url_for(careplan, in_compose) == "amqp://carecoord-careplan:secret@rabbitmq:5672/"
    own = {**in_compose, "CAREPLAN_AMQP_URL": "amqp://own:secret@broker:5672/"}
    assert amqp_url_for(careplan, own) == "amqp://own:secret@broker:5672/"


def test_an_unreachable_broker_ends_the_command_with_a_sentence_not_a_traceback():
    url = "amqp://carecoord-careplan:do-not-print-me@127.0.0.1:1/"
    result = CliRunner().invoke(app, ["dead-letters", "list", "careplan"], env={"CAREPLAN_AMQP_URL": url})
    assert result.exit_code == 1
    assert "cannot reach the broker as careplan's user" in result.stderr
    assert "do-not-print-me" not in result.output
