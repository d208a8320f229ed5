"""Webhook subscriptions' use cases, on notifications' own event store. Synchronous, like all
eventsourcing code: callers run them on the service's pool.

Subscriptions and their delivery lanes live in the same store as the notices they deliver, so
matching a notice and recording the log position it came from commit in one transaction.

Reads (the dispatcher's, the matcher's, the HTTP API's) use `read_current`: a kept copy brought up
to date with one query for what was stored since, so a delivery costs the same however many
notices the subscription was ever matched (`read` replayed the whole history: three quarters of
notifications' CPU under load).

The subscriptions themselves are here, and the recording of delivery attempts (which note on the
subscription too); the rest are mixins, one module each: recording the matcher's matches
(match_recording.py), the delivery lanes (delivery_lanes.py), the access check at each send
(notice_access.py), and the per-aggregate write locks they share (webhook_writes.py).
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from services.notifications.application import NotificationsApplication
from services.notifications.delivery.attempts import AttemptMade, AttemptRecorded, record_attempts
from services.notifications.delivery_lanes import DeliveryLanes
from services.notifications.domain.delivery import AttemptOutcome, Delivery
from services.notifications.domain.subscriptions import (
    DEFAULT_ROTATION_OVERLAP, Filters, Owner, QuietHours, Subscription, new_secret)
from services.notifications.match_recording import MatchRecording
from services.notifications.notice_access import NoticeAccess
from shared.access import Principal, Role
from shared.eventstore import KeyedThreadLocks
from shared.topics import stored_topics

T = TypeVar("T")

# How long the dispatcher's copy of a subscription's settings is used before it is read again.
# Every lane of a subscription sends in parallel: reading it for each send serialised them on the
# subscription's read lock. Changes made in this process (a PATCH, a 410) apply at once; another
# replica's within this long. Access is still checked at each send.
SETTINGS_FRESH_SECONDS = 0.05


class NoSuchSubscription(Exception):
    pass


class WebhookSubscriptions(MatchRecording, DeliveryLanes, NoticeAccess):
    def __init__(self, application: NotificationsApplication, clock: Callable[[], float] = time.time,
                 jitter: Callable[[], float] = lambda: random.uniform(-1, 1)) -> None:
        self.application = application
        self._clock = clock
        self._jitter = jitter
        self._write_locks = KeyedThreadLocks()  # per subscription or lane (webhook_writes.py)
        self._settings: dict[UUID, tuple[float, Subscription | None]] = {}  # id -> (read at, as read)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def subscribe(self, owner: Owner, url: str, filters: Filters, content: str,
                  quiet_hours: QuietHours | None) -> Subscription:
        subscription = Subscription.open(uuid4(), owner, url, filters, content, new_secret(), self.now(), quiet_hours)
        self.application.record(subscription)
        return subscription

    def subscription(self, subscription_id: UUID) -> Subscription:
        try:
            found = self.application.read_current(subscription_id, detached_subscription)
        except AggregateNotFoundError:
            raise NoSuchSubscription(str(subscription_id)) from None
        if not isinstance(found, Subscription) or found.deleted:
            raise NoSuchSubscription(str(subscription_id))
        return found

    def change_subscription(self, subscription_id: UUID, change: Callable[[Subscription], T]) -> tuple[Subscription, T]:
        self.subscription(subscription_id)  # 404 for what is not a live subscription
        result: list[Any] = []
        [subscription] = self._change([subscription_id], lambda subs: result.append(change(subs[0])))
        return subscription, result[0]

    def rotate_secret(self, subscription_id: UUID, overlap: timedelta = DEFAULT_ROTATION_OVERLAP) -> tuple[str, datetime]:
        secret, at = new_secret(), self.now()
        self.change_subscription(subscription_id, lambda s: s.rotate_secret(new_secret=secret, at=at,
                                                                             overlap_ends=at + overlap))
        return secret, at + overlap

    def subscriptions_of(self, principal: Principal) -> list[Subscription]:
        created = stored_topics(Subscription.Created)
        ids = {UUID(str(n.originator_id))
               for n in self.application.recorder.select_notifications(0, 10_000, topics=created)}
        found = [self.subscription_or_none(i) for i in ids]
        return [s for s in found if s is not None and owns(principal, s.owner)]

    def subscription_or_none(self, subscription_id: UUID) -> Subscription | None:
        try:
            return self.subscription(subscription_id)
        except NoSuchSubscription:
            return None

    def settings_of(self, subscription_id: UUID) -> Subscription | None:
        """The subscription as the dispatcher sends for it: read at most SETTINGS_FRESH_SECONDS
        ago (or since changed in this process), never changed by the caller."""
        now = time.monotonic()
        kept = self._settings.get(subscription_id)
        if kept is not None and now - kept[0] < SETTINGS_FRESH_SECONDS:
            return kept[1]
        found = self.subscription_or_none(subscription_id)
        self._settings[subscription_id] = (now, found)
        return found

    def matched_events(self, subscription_id: UUID, after: int, limit: int) -> list[Any]:
        """The subscription's numbered notices after `after` (gap detection and catching up)."""
        matched = self.application.read_events(subscription_id, [Subscription.NoticeMatched])
        return [m for m in matched if m.sequence > after][:limit]

    def record_attempt(self, lane_id: UUID, subscription_id: UUID, sequence: int, at: datetime,
                       outcome: AttemptOutcome, delays: tuple[float, ...], retry_after: float | None,
                       gone: bool) -> Delivery:
        """One attempt (delivery/attempts.py), alone in its transaction: the item as it left it."""
        [recorded] = self.record_attempts([AttemptMade(lane_id, subscription_id, sequence, at, outcome, delays,
                                                       retry_after, gone)])
        if isinstance(recorded, Exception):
            raise recorded
        return recorded.item

    def record_attempts(self, attempts: Sequence[AttemptMade]) -> list[AttemptRecorded | Exception]:
        """Attempts on many lanes, each with what it says of its subscription and, outside the
        treating team, its disclosure, in one transaction (delivery/attempts.py)."""
        return record_attempts(self, attempts, [self._jitter() for _ in attempts])

    def saved(self, ids: Iterable[UUID]) -> None:
        """These aggregates were just saved in this process: the dispatcher sees them at once."""
        for aggregate_id in ids:
            self._settings.pop(aggregate_id, None)


def detached_subscription(subscription: Subscription) -> Subscription:
    """A copy for a reader: `read_current` changes its kept copy in place as events arrive."""
    found = copy.copy(subscription)
    found.people, found.secrets = set(subscription.people), list(subscription.secrets)
    return found


def owns(principal: Principal, owner: Owner) -> bool:
    """Whether `principal` manages a subscription of `owner`: the owner themselves (for an app, a
    token of that app). Supervisors also manage every subscription (`may_manage`)."""
    if owner.app is not None:
        return principal.role is Role.CARE_TEAM_APP and principal.app == owner.app
    return principal.subject == owner.subject and principal.role.value == owner.role


def may_manage(principal: Principal, owner: Owner) -> bool:
    return owns(principal, owner) or principal.role is Role.SUPERVISOR

