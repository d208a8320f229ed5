"""Where FailureRouting sends a message its consumer failed on, on FastStream's in-memory broker.

TestRabbitBroker delivers a publish straight to the subscribers whose exchange and routing key match,
so these tests see what the middleware publishes where: the dead-letter exchange, or the next retry
queue. It has no queue arguments: no TTL returns a retried message to the inbox and nothing
dead-letters at a delivery limit, so the tests hand a retried message back to the inbox themselves,
as the retry queue's TTL does. The broker's own part is tested on RabbitMQ
(tests/integration/test_delivery_guarantees.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from faststream.rabbit import RabbitBroker, RabbitRouter, TestRabbitBroker
from faststream.rabbit.annotations import RabbitMessage

from shared.domain import OutOfSequence
from shared.following import Unprocessable
from shared.messaging import (
    ATTEMPT_HEADER,
    ERROR_HEADER,
    FAILED_AT_HEADER,
    PUBLISHED_BY_HEADER,
    REASON_HEADER,
    ROUTING_KEY_HEADER,
    SERVICE_HEADER,
    WAITS_FOR_PREDECESSOR,
    FailureRouting,
)
from shared.topology import DEAD_LETTER_EXCHANGE, ConsumerTopology

# Bound to every key: a message the retry queue returns arrives with the inbox's name as its routing key.
TOPOLOGY = ConsumerTopology("careplan", bindings=("#",), retry_delays=(0.2, 1.0, 5.0))
OWN_USER, UPSTREAM_USER = "carecoord-careplan", "carecoord-intake"
ROUTING_KEY = "intake.person_registered"
BODY = b'{"opaque": "the consumer failed on this"}'


@dataclass(frozen=True)
class Routed:
    queue: str
    body: bytes
    headers: dict[str, Any]
    user_id: str | None
    message_id: str | None
    correlation_id: str | None


class Consumer:
    """A consumer on the inbox that fails with whatever `failures` says, and queues that keep
    whatever reaches them."""

    def __init__(self) -> None:
        self.broker = RabbitBroker(app_id=OWN_USER, logger=None)
        self.failures: list[Exception] = []
        self.handled: list[bytes] = []
        self.routed: list[Routed] = []
        routing = FailureRouting(TOPOLOGY, OWN_USER)
        routing.bind(self.broker)
        router = RabbitRouter(middlewares=[routing])

        @router.subscriber(TOPOLOGY.inbox_queue(), TOPOLOGY.exchange)
        async def inbox(body: Any, message: RabbitMessage) -> None:
            if self.failures:
                raise self.failures.pop(0)
            self.handled.append(message.body)

        self.broker.include_router(router)
        self._keep(TOPOLOGY.dead_letter_queue(), DEAD_LETTER_EXCHANGE)
        for step in range(len(TOPOLOGY.retry_delays)):
            self._keep(TOPOLOGY.retry_queue(step), None)

    def _keep(self, queue: Any, exchange: Any) -> None:
        @self.broker.subscriber(queue, exchange)
        async def keep(body: Any, message: RabbitMessage) -> None:
            raw = message.raw_message
            self.routed.append(Routed(queue.name, message.body, dict(raw.headers or {}), raw.user_id, raw.message_id,
                                      raw.correlation_id))

    async def deliver(self, headers: dict[str, Any] | None = None, user_id: str = UPSTREAM_USER) -> None:
        """A message on the inbox, as the events exchange routes it there."""
        await self.broker.publish(BODY, exchange=TOPOLOGY.exchange, routing_key=ROUTING_KEY, headers=headers or {},
                                  user_id=user_id, message_id="m-1", correlation_id="corr-1")

    async def return_from_retry_queue(self, retried: Routed) -> None:
        """What the retry queue's TTL does: the message, as it was republished, back in the inbox, with
        the inbox's name as its routing key (the queue's x-dead-letter-routing-key)."""
        await self.broker.publish(retried.body, exchange=TOPOLOGY.exchange, routing_key=TOPOLOGY.inbox_name,
                                  headers=retried.headers, user_id=retried.user_id,
                                  message_id=retried.message_id, correlation_id=retried.correlation_id)


@pytest.fixture
async def consumer():
    consumer = Consumer()
    async with TestRabbitBroker(consumer.broker):
        yield consumer


async def test_an_unprocessable_message_is_dead_lettered_at_once_with_the_reason(consumer):
    consumer.failures = [Unprocessable("carecoord.intake.person_registered v9 is not a known contract")]
    await consumer.deliver()
    [dead] = consumer.routed
    assert dead.queue == TOPOLOGY.dead_letter_name
    assert (dead.body, dead.message_id, dead.correlation_id) == (BODY, "m-1", "corr-1")
    assert dead.headers[REASON_HEADER] == "Unprocessable: carecoord.intake.person_registered v9 is not a known contract"
    assert (dead.headers[ERROR_HEADER], dead.headers[SERVICE_HEADER]) == ("Unprocessable", "careplan")
    assert dead.headers[ROUTING_KEY_HEADER] == ROUTING_KEY
    assert dead.headers[FAILED_AT_HEADER]
    # Republished by careplan's own user, naming who published the original.
    assert (dead.user_id, dead.headers[PUBLISHED_BY_HEADER]) == (OWN_USER, UPSTREAM_USER)
    assert ATTEMPT_HEADER not in dead.headers


async def test_a_transient_failure_goes_to_the_first_retry_queue_with_its_attempt(consumer):
    consumer.failures = [ConnectionError("database down")]
    await consumer.deliver()
    [retried] = consumer.routed
    assert retried.queue == TOPOLOGY.retry_name(0) == "careplan.retry.200ms"
    assert retried.headers[ATTEMPT_HEADER] == 1
    assert retried.headers[ROUTING_KEY_HEADER] == ROUTING_KEY
    assert (retried.body, retried.message_id, retried.user_id) == (BODY, "m-1", OWN_USER)
    assert retried.headers[PUBLISHED_BY_HEADER] == UPSTREAM_USER
    assert REASON_HEADER not in retried.headers


async def test_each_retry_waits_longer_until_the_last_retry_dead_letters_it(consumer):
    steps = len(TOPOLOGY.retry_delays)
    consumer.failures = [ConnectionError("database down")] * (steps + 1)
    await consumer.deliver()
    for _ in range(steps):
        await consumer.return_from_retry_queue(consumer.routed[-1])
    *retried, dead = consumer.routed
    assert [(r.queue, r.headers[ATTEMPT_HEADER]) for r in retried] == [
        ("careplan.retry.200ms", 1), ("careplan.retry.1000ms", 2), ("careplan.retry.5000ms", 3)]
    assert dead.queue == TOPOLOGY.dead_letter_name
    assert dead.headers[REASON_HEADER] == f"gave up after {steps} retries: ConnectionError: database down"
    # The original publisher, though the last delivery came from careplan's own retry queue.
    assert dead.headers[PUBLISHED_BY_HEADER] == UPSTREAM_USER
    assert consumer.handled == []


async def test_a_message_that_succeeds_on_a_retry_is_handled_and_routed_nowhere_else(consumer):
    consumer.failures = [ConnectionError("database down")]
    await consumer.deliver()
    await consumer.return_from_retry_queue(consumer.routed[-1])
    assert consumer.handled == [BODY]
    assert [r.queue for r in consumer.routed] == ["careplan.retry.200ms"]


async def test_an_event_waiting_for_its_predecessor_stays_at_the_last_delay_longer_before_dead_lettering(consumer):
    steps = len(TOPOLOGY.retry_delays)
    waiting = OutOfSequence("intake.person event 3 arrived before event 2")
    consumer.failures = [waiting]
    await consumer.deliver(headers={ATTEMPT_HEADER: steps}, user_id=OWN_USER)
    [retried] = consumer.routed
    assert (retried.queue, retried.headers[ATTEMPT_HEADER]) == ("careplan.retry.5000ms", steps + 1)

    consumer.failures = [waiting]
    await consumer.deliver(headers={ATTEMPT_HEADER: steps + WAITS_FOR_PREDECESSOR}, user_id=OWN_USER)
    dead = consumer.routed[-1]
    assert dead.queue == TOPOLOGY.dead_letter_name
    assert dead.headers[REASON_HEADER].startswith(f"gave up after {steps + WAITS_FOR_PREDECESSOR} retries: OutOfSequence")


async def test_a_message_dead_lettered_after_its_retries_names_the_routing_key_it_was_published_with(consumer):
    consumer.failures = [ConnectionError("database down")] * (len(TOPOLOGY.retry_delays) + 1)
    await consumer.deliver()
    for _ in TOPOLOGY.retry_delays:
        await consumer.return_from_retry_queue(consumer.routed[-1])
    dead = consumer.routed[-1]
    assert dead.queue == TOPOLOGY.dead_letter_name
    # Not the inbox's name, which is the routing key of every delivery from a retry queue.
    assert dead.headers[ROUTING_KEY_HEADER] == ROUTING_KEY
