"""Delivering a subscription's notices: one lane per subscription, person and urgency.

A lane sends its items in sequence order, one at a time (its head), so each person's notices reach
a subscriber in order; lanes go in parallel. Urgent notices (crises) have lanes of their own, so a
backlog of routine items never holds one up. Every attempt is an event (when, status or error,
latency; never the body); after the last retry an item is parked with its reason, and an operator
may requeue it (a replay). An item the owner may not be sent now is suppressed with the reason,
never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar
from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

PENDING, DELIVERED, SUPPRESSED, PARKED = "pending", "delivered", "suppressed", "parked"
STATUSES = (PENDING, DELIVERED, SUPPRESSED, PARKED)

# Seconds before each retry. Routine: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (a day and a
# bit in all). Urgent: seconds at first, then every 5 minutes, for about an hour: after that a
# crisis notice is better handled by people (the team's own escalation) than by a webhook.
ROUTINE_RETRY_DELAYS = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
URGENT_RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 60.0, 120.0, 120.0, *(300.0,) * 11)
JITTER = 0.2  # each delay is stretched or shrunk by up to this fraction, so retries do not stampede


def lane_id(subscription_id: UUID, person_id: str, urgent: bool) -> UUID:
    return uuid5(NAMESPACE_URL, f"carecoord:webhook-lane:{subscription_id}/{person_id}/{'urgent' if urgent else 'routine'}")


def webhook_id(subscription_id: UUID, sequence: int) -> str:
    """The `webhook-id` of a delivery: the same for every retry and replay of it."""
    return f"msg_{uuid5(NAMESPACE_URL, f'carecoord:webhook:{subscription_id}/{sequence}').hex}"


def next_attempt_at(now: datetime, attempts_made: int, delays: tuple[float, ...], jitter: float,
                    retry_after: float | None = None) -> datetime | None:
    """When to try again after `attempts_made` failed attempts (None: that was the last).
    `jitter` in [-1, 1] picks where in the jitter band the delay falls; a receiver's Retry-After
    (seconds) is honoured when it asks for longer."""
    if attempts_made > len(delays):
        return None
    delay = delays[attempts_made - 1] * (1 + JITTER * jitter)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return now + timedelta(seconds=delay)


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None
    latency_ms: int


@dataclass(frozen=True)
class Delivery:
    sequence: int
    notification_id: str
    person_id: str
    kind: str
    urgent: bool
    category: str
    occurred_at: datetime
    queued_at: datetime
    due_at: datetime
    status: str = PENDING
    attempts: int = 0
    last_result: str | None = None  # the last attempt's status code or error, or why suppressed/parked
    history: tuple[Attempt, ...] = ()  # every attempt, oldest first (a replay keeps the earlier ones)


@dataclass(frozen=True)
class AttemptOutcome:
    """What one attempt came to (never the body sent or received)."""

    status_code: int | None
    error: str | None
    latency_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def result(self) -> str:
        return str(self.status_code) if self.status_code is not None else (self.error or "error")


class DeliveryLane(Aggregate):
    if TYPE_CHECKING:  # The classes @event("...") defines as the class body runs, for mypy
        Queued: ClassVar[type[Any]]
        Requeued: ClassVar[type[Any]]

    @classmethod
    def create_id(cls, subscription_id: UUID, person_id: str, urgent: bool, **_: object) -> UUID:
        return lane_id(subscription_id, person_id, urgent)

    @event("Opened")
    def __init__(self, subscription_id: UUID, person_id: str, urgent: bool) -> None:
        self.subscription_id = subscription_id
        self.person_id = person_id
        self.urgent = urgent
        self.items: dict[int, Delivery] = {}
        # The sequence numbers of the pending items: the head is found without walking every item
        # the lane ever had (a lane keeps them all, and the dispatcher asks for its head at each send).
        self.pending: set[int] = set()

    def head(self) -> Delivery | None:
        """The next item to send: the pending one with the lowest sequence number."""
        return self.items[min(self.pending)] if self.pending else None

    def _put(self, item: Delivery) -> None:
        self.items[item.sequence] = item
        if item.status == PENDING:
            self.pending.add(item.sequence)
        else:
            self.pending.discard(item.sequence)

    @event("Queued")
    def queue(self, sequence: int, notification_id: str, kind: str, category: str, occurred_at: datetime,
              at: datetime) -> None:
        self._put(Delivery(sequence, notification_id, self.person_id, kind, self.urgent, category,
                           occurred_at, queued_at=at, due_at=at))

    @event("Attempted")
    def attempted(self, sequence: int, at: datetime, status_code: int | None, error: str | None, latency_ms: int,
                  retry_at: datetime | None) -> None:
        """One attempt; `retry_at` when it failed and will be tried again then."""
        item = self.items[sequence]
        delivered = status_code is not None and 200 <= status_code < 300
        self._put(replace(
            item, attempts=item.attempts + 1, status=DELIVERED if delivered else PENDING,
            due_at=retry_at or item.due_at,
            last_result=str(status_code) if status_code is not None else error,
            history=(*item.history, Attempt(at, status_code, error, latency_ms))))

    def record_attempt(self, sequence: int, at: datetime, outcome: AttemptOutcome, delays: tuple[float, ...],
                       jitter: float, retry_after: float | None = None) -> None:
        """Record an attempt; a failure is retried on the schedule, or parked after the last one."""
        attempts = self.items[sequence].attempts + 1
        retry_at = None if outcome.delivered else next_attempt_at(at, attempts, delays, jitter, retry_after)
        self.attempted(sequence=sequence, at=at, status_code=outcome.status_code, error=outcome.error,
                       latency_ms=outcome.latency_ms, retry_at=retry_at)
        if not outcome.delivered and retry_at is None:
            self.park(sequence=sequence, at=at, reason=f"gave up after {attempts} attempts: last {outcome.result}")

    @event("Suppressed")
    def suppress(self, sequence: int, at: datetime, reason: str) -> None:
        self._put(replace(self.items[sequence], status=SUPPRESSED, last_result=reason))

    @event("Parked")
    def park(self, sequence: int, at: datetime, reason: str) -> None:
        self._put(replace(self.items[sequence], status=PARKED, last_result=reason))

    @event("Deferred")
    def defer(self, sequence: int, until: datetime, reason: str) -> None:
        """Held back (quiet hours), not failed: no attempt was made."""
        self._put(replace(self.items[sequence], due_at=until))

    @event("Requeued")
    def requeue(self, sequence: int, at: datetime) -> None:
        """Send again (a replay): checked against the owner's access again when it goes."""
        self._put(replace(self.items[sequence], status=PENDING, attempts=0, due_at=at))

    def replayable(self, sequence: int | None, since: datetime | None) -> list[int]:
        """Items a replay requeues: one by number (unless still pending), or all parked since a time."""
        if sequence is not None:
            item = self.items.get(sequence)
            return [sequence] if item is not None and item.status != PENDING else []
        return [item.sequence for item in self.items.values()
                if item.status == PARKED and (since is None or item.queued_at >= since)]
