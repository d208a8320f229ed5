"""FastStream adapters: publishing integration events, and what happens to messages that fail.

Who published an event: every publish names its broker user in `user_id`, which RabbitMQ checks
against the connection's user, and consumers believe an envelope's `source` only from that source's
user (EventSources). A message a consumer puts in its own retry queue carries its user, and the
original publisher in a header that is believed only on a message of the consumer's own user.

Failure routing for a consuming service:
- unprocessable (bad schema, unknown contract): dead-lettered at once with the reason in headers;
- anything else (database down, an earlier event of the person not applied yet): republished to
  the next retry queue, whose TTL returns it to the inbox; after the last step, dead-lettered
  with the reason. The original delivery is acked only after that publish is confirmed, so a
  failure can duplicate a message (harmless: consumers dedupe) but never lose it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from faststream import BaseMiddleware
from faststream.rabbit import RabbitBroker
from pydantic import ValidationError

from shared.contracts import UnknownContract, payload_model
from shared.contracts.base import Payload
from shared.domain import OutOfSequence, UpstreamRef
from shared.envelope import AnyIntegrationEvent, IntegrationEvent, routing_key_for
from shared.following import Unprocessable
from shared.relay import Outgoing
from shared.tracing import continuing, current_traceparent
from shared.topology import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, ConsumerTopology

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-carecoord-attempt"
REASON_HEADER = "x-carecoord-dead-letter-reason"
ERROR_HEADER = "x-carecoord-dead-letter-error"
SERVICE_HEADER = "x-carecoord-dead-lettered-by"
ROUTING_KEY_HEADER = "x-carecoord-original-routing-key"
FAILED_AT_HEADER = "x-carecoord-failed-at"
PUBLISHED_BY_HEADER = "x-carecoord-published-by"
MAX_REASON_LENGTH = 2000
WAITS_FOR_PREDECESSOR = 25


class BrokerPublisher:
    """Publishes integration events to the events exchange, persistent, with publisher confirms.

    One FastStream publisher per contract, so that each published event is in the AsyncAPI document.
    """

    def __init__(self, broker: RabbitBroker, contracts: Sequence[type[Payload]], user_id: str,
                 confirm_window: int = 100) -> None:
        self._window = confirm_window
        self._publishers = {
            contract.event_type: broker.publisher(
                exchange=EVENTS_EXCHANGE,
                routing_key=routing_key_for(contract.event_type),
                persist=True,
                # The connection's user: the broker refuses any other, so consumers can trust it.
                user_id=user_id,
                content_type="application/json",
                title=f"{routing_key_for(contract.event_type)}.v{contract.version}",
                description=contract.__doc__,
                schema=IntegrationEvent[contract],  # type: ignore[valid-type]  # parametrised at run time
            )
            for contract in contracts
        }

    async def publish_in_order(self, batch: Sequence[Outgoing]) -> None:
        # Publishes are written to the channel in call order and the broker keeps that order;
        # waiting for a window of confirms at once is what makes the relay fast.
        for start in range(0, len(batch), self._window):
            window = batch[start : start + self._window]
            await asyncio.gather(*(self._publish(item) for item in window))

    async def _publish(self, item: Outgoing) -> None:
        event = item.event
        headers: dict[str, Any] = {"x-carecoord-type": event.type, "x-carecoord-version": event.version}
        if item.traceparent:
            headers["traceparent"] = item.traceparent  # passed on as is when nothing is traced here
        # The event's own trace, stored when it was recorded: a traced publish is its child span
        # (and replaces the header with its own `traceparent`), so the trace goes on to consumers.
        with continuing(item.traceparent):
            await self._publishers[event.type].publish(
                event.model_dump_json().encode(),
                message_id=str(event.event_id),
                correlation_id=event.correlation_id,
                message_type=event.type,
                headers=headers,
            )


def upstream_ref(event: AnyIntegrationEvent) -> UpstreamRef:
    return UpstreamRef(
        source=event.source,
        stream=event.stream,
        position=event.position,
        event_id=str(event.event_id),
        event_type=event.type,
        person_id=str(event.person_id),
        sequence=event.person_sequence,
        correlation_id=event.correlation_id,
        traceparent=current_traceparent(),  # called in the delivery's task: its consume span
    )


class NotFromSource(Unprocessable):
    """The message's publisher is not the service its envelope names as the source."""


def published_by(user_id: str | None, headers: Mapping[str, Any] | None, own_user: str) -> str | None:
    """Who published a delivery: its `user_id` (checked by the broker), or, on a message this
    service republished itself (to its retry queue: its own user), the publisher it recorded."""
    if user_id != own_user or headers is None or PUBLISHED_BY_HEADER not in headers:
        return user_id
    recorded = headers[PUBLISHED_BY_HEADER]
    recorded = recorded.decode() if isinstance(recorded, bytes) else str(recorded)
    return recorded or None  # "": the original named no user


class EventSources:
    """Believes an envelope's source, stream and type only from the source's own broker user."""

    def __init__(self, own_user: str, publisher_of: Callable[[str], str | None]) -> None:
        self._own_user = own_user
        self._publisher_of = publisher_of

    def authenticate(self, event: AnyIntegrationEvent, user_id: str | None, headers: Mapping[str, Any] | None) -> None:
        """Raise NotFromSource unless `event` was published by its source's user, on its streams."""
        publisher = published_by(user_id, headers, self._own_user)
        expected = self._publisher_of(event.source)
        if publisher is None:
            raise NotFromSource(f"not published by {event.source}: the message names no user_id")
        if expected is None:
            raise NotFromSource(f"{event.source} is not a known source of events (published by broker user "
                                f"{publisher!r})")
        if publisher != expected:
            raise NotFromSource(f"not published by {event.source}: published by broker user {publisher!r}")
        # A source's user publishes only under its own names: never another service's stream or type.
        if not event.stream.startswith(f"{event.source}."):
            raise NotFromSource(f"{event.source} does not publish stream {event.stream}")
        if not event.type.startswith(f"carecoord.{event.source}."):
            raise NotFromSource(f"{event.source} does not publish {event.type}")


def parse_payload(event: AnyIntegrationEvent) -> Payload:
    """Validate an envelope's payload against its published contract, or say why it cannot be."""
    try:
        model = payload_model(event.type, event.version)
        return model.model_validate(event.payload)
    except UnknownContract as error:
        raise Unprocessable(str(error)) from None
    except ValidationError as error:
        raise Unprocessable(f"{event.type} v{event.version} payload invalid: {describe(error)}") from None


def describe(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in error.errors()]
        text = "; ".join(parts)
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:MAX_REASON_LENGTH]


def is_unprocessable(error: BaseException) -> bool:
    # ValueError covers undecodable bodies (JSON, UTF-8) and domain rules refusing the content.
    return isinstance(error, (Unprocessable, ValidationError, ValueError))


class FailureRouting:
    """A broker middleware factory that routes failed messages to retry or dead-letter queues."""

    def __init__(self, topology: ConsumerTopology, broker_user: str) -> None:
        self.topology = topology
        self.broker_user = broker_user
        self.broker: RabbitBroker | None = None

    def bind(self, broker: RabbitBroker) -> None:
        self.broker = broker

    def __call__(self, msg: Any, /, *, context: Any) -> BaseMiddleware:
        return _FailureRoutingMiddleware(msg, context=context, routing=self)

    async def dead_letter(self, raw: Any, reason: str, error: BaseException) -> None:
        headers = dict(raw.headers or {})
        headers.update({
            REASON_HEADER: reason,
            ERROR_HEADER: type(error).__name__,
            SERVICE_HEADER: self.topology.service,
            # A delivery from a retry queue is routed by the inbox's name: the header kept the original.
            ROUTING_KEY_HEADER: headers.get(ROUTING_KEY_HEADER) or raw.routing_key or "",
            FAILED_AT_HEADER: datetime.now(timezone.utc).isoformat(),
        })
        log.error("dead-lettering message %s: %s", raw.message_id, reason,
                  extra={"message_id": raw.message_id, "correlation_id": raw.correlation_id})
        await self._republish(raw, headers, exchange=DEAD_LETTER_EXCHANGE, routing_key=self.topology.dead_letter_key)

    def attempts_allowed(self, error: BaseException) -> int:
        steps = len(self.topology.retry_delays)
        # An event waiting for its predecessor is not failing: the predecessor may itself be
        # working through its retries. It waits longer, at the last step's delay, before an
        # operator is asked (by the dead-letter queue) why the predecessor never came.
        return steps + WAITS_FOR_PREDECESSOR if isinstance(error, OutOfSequence) else steps

    async def retry(self, raw: Any, attempt: int, error: BaseException) -> None:
        headers = dict(raw.headers or {})
        headers[ATTEMPT_HEADER] = attempt + 1
        headers[ROUTING_KEY_HEADER] = headers.get(ROUTING_KEY_HEADER) or raw.routing_key or ""
        log.warning("retrying message %s (attempt %d) after %s", raw.message_id, attempt + 1, describe(error),
                    extra={"message_id": raw.message_id, "correlation_id": raw.correlation_id})
        step = min(attempt, len(self.topology.retry_delays) - 1)
        await self._republish(raw, headers, exchange=None, routing_key=self.topology.retry_name(step))

    async def _republish(self, raw: Any, headers: dict[str, Any], exchange: Any, routing_key: str) -> None:
        if self.broker is None:
            raise RuntimeError("FailureRouting.bind(broker) was not called")
        # Republished under this service's user: who published the original goes in a header
        # (overwriting any the original carried, which only this service's own user may set).
        headers[PUBLISHED_BY_HEADER] = published_by(raw.user_id, raw.headers, self.broker_user) or ""
        await self.broker.publish(
            raw.body,
            exchange=exchange,
            routing_key=routing_key,
            persist=True,
            headers=headers,
            message_id=raw.message_id,
            correlation_id=raw.correlation_id,
            content_type=raw.content_type,
            message_type=raw.type,
            # A command's receipt still goes where its sender asked, after a retry or a replay.
            reply_to=raw.reply_to or None,
            user_id=self.broker_user,
        )


class _FailureRoutingMiddleware(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, routing: FailureRouting) -> None:
        super().__init__(msg, context=context)
        self._routing = routing

    async def after_processed(self, exc_type: Any = None, exc_val: BaseException | None = None, exc_tb: Any = None) -> bool:
        raw = self.msg
        if exc_val is None or not isinstance(exc_val, Exception) or raw is None:
            return False
        if is_unprocessable(exc_val):
            await self._routing.dead_letter(raw, describe(exc_val), exc_val)
            return True  # handled: the delivery is acked
        attempt = int((raw.headers or {}).get(ATTEMPT_HEADER, 0))
        if attempt >= self._routing.attempts_allowed(exc_val):
            reason = f"gave up after {attempt} retries: {describe(exc_val)}"
            await self._routing.dead_letter(raw, reason, exc_val)
        else:
            await self._routing.retry(raw, attempt, exc_val)
        return True
