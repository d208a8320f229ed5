"""Every exchange, routing key and queue carecoord uses, in one place.

    publishers --(routing key <source>.<event>)--> carecoord.events (topic)
        --> <service>.inbox (quorum, single active consumer)      one per consuming service
              transient failure --> <service>.retry.<n> (TTL n) --> back to <service>.inbox
              unprocessable / retries exhausted / delivery limit
                  --> carecoord.dead-letter (direct, key <service>) --> <service>.dead-letter
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue

EVENTS_EXCHANGE = RabbitExchange("carecoord.events", type=ExchangeType.TOPIC, durable=True)
# Agency systems send commands here, routing key = the service (e.g. "intake").
COMMANDS_EXCHANGE = RabbitExchange("carecoord.commands", type=ExchangeType.DIRECT, durable=True)
DEAD_LETTER_EXCHANGE = RabbitExchange("carecoord.dead-letter", type=ExchangeType.DIRECT, durable=True)

# The services that publish or consume events, each connecting to the broker as a user of its own.
SERVICES = ("intake", "careplan", "notifications")


def publishing_permission(service: str) -> dict[str, str]:
    """The RabbitMQ topic permission that lets `service`'s broker user publish only its own events
    (routing keys `<service>.…`) on the events exchange; reading (binding) is not restricted."""
    return {"exchange": EVENTS_EXCHANGE.name, "write": f"^{re.escape(service)}\\.", "read": ".*"}


# A message redelivered this many times (e.g. it crashes the consumer process every time) is
# dead-lettered by RabbitMQ itself, with reason "delivery_limit" in its x-death header.
DELIVERY_LIMIT = 20


@dataclass(frozen=True)
class ConsumerTopology:
    """One queue a service consumes, what it is bound to, and its retry and dead-letter queues."""

    service: str
    bindings: tuple[str, ...]
    retry_delays: tuple[float, ...] = (0.2, 1.0, 5.0, 30.0)
    queue: str = "inbox"
    exchange: RabbitExchange = EVENTS_EXCHANGE

    def with_retry_delays(self, delays: tuple[float, ...]) -> ConsumerTopology:
        return replace(self, retry_delays=tuple(delays))

    @property
    def _prefix(self) -> str:
        # The events inbox keeps the short names (careplan.dead-letter); other queues add their name.
        return self.service if self.queue == "inbox" else f"{self.service}.{self.queue}"

    @property
    def inbox_name(self) -> str:
        return f"{self.service}.{self.queue}"

    @property
    def dead_letter_key(self) -> str:
        return self._prefix

    @property
    def dead_letter_name(self) -> str:
        return f"{self._prefix}.dead-letter"

    def retry_name(self, step: int) -> str:
        # The delay is in the name: a queue's TTL cannot change once declared.
        return f"{self._prefix}.retry.{int(self.retry_delays[step] * 1000)}ms"

    def inbox_queue(self) -> RabbitQueue:
        return RabbitQueue(
            self.inbox_name,
            queue_type=QueueType.QUORUM,
            routing_key=self.bindings[0],
            arguments={
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name,
                "x-dead-letter-routing-key": self.dead_letter_key,
                "x-delivery-limit": DELIVERY_LIMIT,
                # One consumer at a time per queue keeps the broker's order; replicas stand by.
                "x-single-active-consumer": True,
            },
        )

    def dead_letter_queue(self) -> RabbitQueue:
        return RabbitQueue(self.dead_letter_name, queue_type=QueueType.QUORUM, routing_key=self.dead_letter_key)

    def retry_queue(self, step: int) -> RabbitQueue:
        # A fixed TTL per queue: per-message expiry would block behind the head of the queue.
        return RabbitQueue(
            self.retry_name(step),
            durable=True,
            arguments={
                "x-message-ttl": int(self.retry_delays[step] * 1000),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.inbox_name,
            },
        )

    async def declare(self, broker: RabbitBroker) -> None:
        """Declare what the subscriber itself does not: extra bindings, retry and dead-letter queues."""
        exchange = await broker.declare_exchange(self.exchange)
        dead_letters = await broker.declare_exchange(DEAD_LETTER_EXCHANGE)
        inbox = await broker.declare_queue(self.inbox_queue())
        for routing_key in self.bindings:
            await inbox.bind(exchange, routing_key=routing_key)
        dead_letter_queue = await broker.declare_queue(self.dead_letter_queue())
        await dead_letter_queue.bind(dead_letters, routing_key=self.dead_letter_key)
        for step in range(len(self.retry_delays)):
            await broker.declare_queue(self.retry_queue(step))


async def declare_publishing(broker: RabbitBroker) -> None:
    await broker.declare_exchange(EVENTS_EXCHANGE)
