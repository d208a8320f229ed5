"""The dead-letter queue of one consumed queue: what is parked there and why, and sending it back.

A message is dead-lettered with its reason in headers (shared/messaging.py: FailureRouting), or by
RabbitMQ itself at the delivery limit (its reason in `x-death`). Replaying one:
- goes to the consumer's own queue through the default exchange, as the retry queues do, so only
  that consumer sees it again (the events exchange would hand it to every service bound to its
  key, and a consumer's broker user may not publish another service's routing keys there);
- is published as the consuming service's broker user, naming the original publisher in
  `x-carecoord-published-by`: exactly what a retry does, and the header the consumer believes only
  on its own user's messages (EventSources). So a replayed event is still accepted as its
  source's, and a message that was never authenticated is not made so by replaying it;
- starts its retries afresh (the attempt count and the old reason are dropped; a replay count is
  kept), so one that fails again is back in the dead-letter queue with its new reason;
- is acked in the dead-letter queue only after the broker confirmed the publish (mandatory, so a
  missing queue is an error rather than a silent drop). A crash in between leaves the dead-letter
  copy in place: replayed twice, applied once, because consumers ignore an event they applied.
Messages are taken in queue order and replayed one at a time, so a person's events parked there
reach the consumer again in the order they were parked.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue

from shared.messaging import (ATTEMPT_HEADER, ERROR_HEADER, FAILED_AT_HEADER, PUBLISHED_BY_HEADER, REASON_HEADER,
                              ROUTING_KEY_HEADER, SERVICE_HEADER, published_by)
from shared.topology import ConsumerTopology

REPLAYS_HEADER = "x-carecoord-replays"
# What RabbitMQ adds when it dead-letters or redelivers: history of the parked copy, not of the replay.
_BROKER_HEADERS = ("x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
                   "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason", "x-delivery-count")
_DROPPED_ON_REPLAY = (ATTEMPT_HEADER, REASON_HEADER, ERROR_HEADER, SERVICE_HEADER, FAILED_AT_HEADER,
                      *_BROKER_HEADERS)


@dataclass(frozen=True)
class DeadLetter:
    """What an operator needs to know of a parked message: ids, kinds and the reason, no content."""

    message_id: str | None
    event_type: str | None
    routing_key: str
    reason: str
    dead_lettered_by: str | None
    failed_at: str | None
    published_by: str | None
    replays: int

    def matches(self, ids: Collection[str]) -> bool:
        return self.message_id in ids


class ReplayRefused(RuntimeError):
    """Replaying as this broker user would make the consumer disbelieve the message."""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def read_dead_letter(message: AbstractIncomingMessage) -> DeadLetter:
    headers: dict[str, Any] = dict(message.headers or {})
    deaths = headers.get("x-death") or []
    # Most recent first: an earlier one may be a retry queue's TTL returning it to the inbox.
    last_death = deaths[0] if isinstance(deaths, list) and deaths else {}
    reason = _text(headers.get(REASON_HEADER))
    routing_key = _text(headers.get(ROUTING_KEY_HEADER))
    if reason is None and last_death:
        # Dead-lettered by RabbitMQ itself: delivery_limit (it crashed the consumer every time),
        # rejected, expired.
        reason = f"{_text(last_death.get('reason'))} (by RabbitMQ, from {_text(last_death.get('queue'))})"
        keys = last_death.get("routing-keys") or []
        routing_key = routing_key or (_text(keys[0]) if keys else None)
    return DeadLetter(
        message_id=message.message_id or _event_id(message.body),
        event_type=message.type or _text(headers.get("x-carecoord-type")),
        routing_key=routing_key or message.routing_key or "",
        reason=reason or "(no reason recorded)",
        dead_lettered_by=_text(headers.get(SERVICE_HEADER)),
        failed_at=_text(headers.get(FAILED_AT_HEADER)),
        published_by=_text(headers.get(PUBLISHED_BY_HEADER)) or message.user_id,
        replays=int(headers.get(REPLAYS_HEADER) or 0),
    )


def _event_id(body: bytes) -> str | None:
    try:
        envelope = json.loads(body)
    except ValueError:
        return None
    return str(envelope.get("event_id")) if isinstance(envelope, dict) and envelope.get("event_id") else None


def replay_message(message: AbstractIncomingMessage, user: str) -> aio_pika.Message:
    """The parked message as the consumer's own user republishes it: same body, ids and properties;
    its original publisher and routing key in headers; no dead-letter reason or attempt count."""
    headers = {key: value for key, value in (message.headers or {}).items() if key not in _DROPPED_ON_REPLAY}
    letter = read_dead_letter(message)
    headers[ROUTING_KEY_HEADER] = letter.routing_key
    headers[PUBLISHED_BY_HEADER] = published_by(message.user_id, message.headers, user) or ""
    headers[REPLAYS_HEADER] = letter.replays + 1
    return aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        priority=message.priority,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        message_id=message.message_id,
        timestamp=message.timestamp,
        type=message.type,
        user_id=user,
        app_id=message.app_id,
    )


# Called between the broker's confirm of a replayed publish and the ack of the parked copy.
AfterPublish = Callable[[DeadLetter], Awaitable[None]]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReplayReport:
    replayed: list[DeadLetter]
    left: int  # still parked when the replay ended (not selected)


class DeadLetterQueue:
    """One consumed queue's dead letters, reached as the consuming service's broker user."""

    def __init__(self, amqp_url: str, topology: ConsumerTopology, after_publish: AfterPublish | None = None) -> None:
        self.amqp_url = amqp_url
        self.topology = topology
        self.user = unquote(urlsplit(amqp_url).username or "guest")
        self._after_publish = after_publish
        self._connection: AbstractConnection | None = None

    async def __aenter__(self) -> DeadLetterQueue:
        self._connection = await aio_pika.connect(self.amqp_url)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def _open(self) -> tuple[AbstractChannel, AbstractQueue, int]:
        if self._connection is None:
            raise RuntimeError("use DeadLetterQueue in `async with`")
        channel = await self._connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(self.topology.dead_letter_name, passive=True)
        return channel, queue, queue.declaration_result.message_count or 0

    async def list(self) -> list[DeadLetter]:
        """Every parked message, in queue order, left where it is."""
        channel, queue, count = await self._open()
        try:
            # Held unacked until the channel closes, which returns them all in place.
            return [read_dead_letter(message) for message in await _take(queue, count)]
        finally:
            await channel.close()

    async def replay(self, ids: Collection[str] | None = None, progress: Progress | None = None) -> ReplayReport:
        """Send the parked messages (those with these message ids, or all) back to the consumer's
        queue, in order, each acked here only once its publish is confirmed. Only what was parked
        when the replay began is taken, so one that fails again at once is not replayed again."""
        channel, queue, count = await self._open()
        replayed: list[DeadLetter] = []
        try:
            for position in range(count):
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                letter = read_dead_letter(message)
                if ids is not None and not letter.matches(ids):
                    continue  # held unacked: returned to the queue when the channel closes
                self._check_believable(message, letter)
                await channel.default_exchange.publish(replay_message(message, self.user),
                                                       routing_key=self.topology.inbox_name, mandatory=True)
                if self._after_publish is not None:
                    await self._after_publish(letter)
                await message.ack()
                replayed.append(letter)
                if progress is not None:
                    progress(position + 1, count)
        finally:
            await channel.close()
        return ReplayReport(replayed, left=count - len(replayed))

    def _check_believable(self, message: AbstractIncomingMessage, letter: DeadLetter) -> None:
        # A message the consumer parked carries the consumer's user. Replayed as anyone else, the
        # original publisher it names would not be believed: refuse before publishing anything.
        if letter.dead_lettered_by is not None and message.user_id and message.user_id != self.user:
            raise ReplayRefused(
                f"{self.topology.dead_letter_name} was filled by broker user {message.user_id!r}, and replaying as "
                f"{self.user!r} would not be believed: connect as the consuming service's user")


async def _take(queue: AbstractQueue, count: int) -> list[AbstractIncomingMessage]:
    taken = []
    for _ in range(count):
        message = await queue.get(no_ack=False, fail=False)
        if message is None:
            break
        taken.append(message)
    return taken
