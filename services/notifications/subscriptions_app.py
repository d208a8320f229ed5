"""Webhook subscriptions' use cases, on notifications' own event store. Synchronous, like all
eventsourcing code: callers run them on the service's pool.

Subscriptions and their delivery lanes live in the same store as the notices they deliver, so
matching a notice and recording the log position it came from commit in one transaction.

Reads (the dispatcher's, the matcher's, the HTTP API's) use `read_current`: a kept copy brought up
to date with one query for what was stored since, so a delivery costs the same however many
notices the subscription was ever matched (`read` replayed the whole history: three quarters of
notifications' CPU under load). Writes to subscriptions and lanes hold a lock per aggregate, taken
in sorted order, so the matcher (up to 200 lanes at once) and the dispatcher (one lane) in this
process wait for each other instead of failing each other's save on the version over and over;
another replica can still conflict, and the retry on what is stored stays for that.
"""

from __future__ import annotations

import contextlib
import copy
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, Tracking

from services.notifications.application import NotificationsApplication, person_facts
from services.notifications.delivery.attempts import AttemptMade, AttemptRecorded, record_attempts
from services.notifications.domain.delivery import AttemptOutcome, Delivery, DeliveryLane
from services.notifications.domain.subscriptions import (
    DEFAULT_ROTATION_OVERLAP, Filters, Owner, QuietHours, Subscription, new_secret, owner_refusal)
from shared.access import STAFF, Principal, Role
from shared.eventstore import KeyedThreadLocks
from shared.topics import stored_topics

T = TypeVar("T")
MATCHING = "webhook-matching"  # the tracking name of matching's position in the notification log
SAVE_ATTEMPTS = 8
# How long the dispatcher's copy of a subscription's settings is used before it is read again.
# Every lane of a subscription sends in parallel: reading it for each send serialised them on the
# subscription's read lock. Changes made in this process (a PATCH, a 410) apply at once; another
# replica's within this long. Access is still checked at each send.
SETTINGS_FRESH_SECONDS = 0.05


class NoSuchSubscription(Exception):
    pass


@dataclass(frozen=True)
class Match:
    """A notice one subscription wants (found by the matcher, numbered when recorded)."""

    subscription_id: UUID
    notification_id: str
    person_id: str
    kind: str
    urgent: bool
    category: str
    occurred_at: datetime


class RecordedMatches(list[UUID]):
    """The lanes that got work (a list of them, as `record_matches` always returned), and the log
    positions of the lane events that gave it to them: the dispatcher, told in-process, need not
    look at those again when it reads the log."""

    def __init__(self, lanes: Iterable[UUID], positions: list[int]) -> None:
        super().__init__(lanes)
        self.positions = positions

    @property
    def lanes(self) -> list[UUID]:
        return list(self)


class WebhookSubscriptions:
    def __init__(self, application: NotificationsApplication, clock: Callable[[], float] = time.time,
                 jitter: Callable[[], float] = lambda: random.uniform(-1, 1)) -> None:
        self.application = application
        self._clock = clock
        self._jitter = jitter
        self._write_locks = KeyedThreadLocks()  # per subscription or lane: see the module's docstring
        self._settings: dict[UUID, tuple[float, Subscription | None]] = {}  # id -> (read at, as read)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # Subscriptions

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

    # Matching: each notice wanted by a subscription gets its next number and a lane entry, in the
    # same transaction as the log position it was read at.

    def record_matches(self, matches: Sequence[Match], position: int) -> RecordedMatches | None:
        """Record the matches found up to log `position`; the lanes that got work, or None when
        another process had already recorded this position (then go on from the stored one)."""
        now = self.now()
        subscription_ids = list(dict.fromkeys(m.subscription_id for m in matches))
        lane_keys = list(dict.fromkeys((m.subscription_id, m.person_id, m.urgent) for m in matches))
        lane_ids = [DeliveryLane.create_id(*key) for key in lane_keys]
        with self.holding([*subscription_ids, *lane_ids]):
            return self._record_matches(matches, position, now, subscription_ids, lane_keys, lane_ids)

    def _record_matches(self, matches: Sequence[Match], position: int, now: datetime, subscription_ids: list[UUID],
                        lane_keys: list[tuple[UUID, str, bool]], lane_ids: list[UUID]) -> RecordedMatches | None:
        for _ in range(SAVE_ATTEMPTS):
            found = self.application.check_out_many([*subscription_ids, *lane_ids])
            subscriptions = {i: found[i] for i in subscription_ids}
            lanes = {key: found.get(lane) or DeliveryLane(subscription_id=key[0], person_id=key[1], urgent=key[2])
                     for key, lane in zip(lane_keys, lane_ids, strict=True)}
            for match in matches:
                subscription: Subscription = subscriptions[match.subscription_id]
                sequence = subscription.next_sequence()
                subscription.match(sequence=sequence, notification_id=match.notification_id,
                                   person_id=match.person_id, kind=match.kind, urgent=match.urgent,
                                   category=match.category, occurred_at=match.occurred_at)
                lanes[(match.subscription_id, match.person_id, match.urgent)].queue(
                    sequence=sequence, notification_id=match.notification_id, kind=match.kind,
                    category=match.category, occurred_at=match.occurred_at, at=now)
            try:
                recordings = self.application.record(*subscriptions.values(), *lanes.values(),
                                                     trackings=[Tracking(MATCHING, position)])
                return RecordedMatches(lane_ids, [recording.notification.id for recording in recordings
                                                  if isinstance(recording.domain_event, DeliveryLane.Queued)])
            except IntegrityError:
                self.application.forget([*subscription_ids, *lane_ids])
                if self.matched_position() >= position:
                    return None
        raise RuntimeError("could not record webhook matches: kept conflicting")

    def matched_position(self) -> int:
        return self.application.recorder.max_tracking_id(MATCHING) or 0

    # Delivery

    def lane(self, lane_id: UUID) -> DeliveryLane | None:
        try:
            return self.application.read_current(lane_id, detached_lane)
        except AggregateNotFoundError:
            return None

    def lane_head(self, lane_id: UUID) -> LaneHead | None:
        """The lane's next item as stored now (None: no such lane), for the dispatcher."""
        try:
            return self.application.read_current(lane_id, lane_head)
        except AggregateNotFoundError:
            return None

    def lane_heads(self, lane_ids: Iterable[UUID]) -> dict[UUID, LaneHead]:
        """`lane_head` of several lanes with one query (a lane that does not exist is left out)."""
        return self.application.read_current_many({lane_id: lane_head for lane_id in lane_ids})

    def lanes_of(self, subscription: Subscription) -> list[DeliveryLane]:
        ids = [DeliveryLane.create_id(subscription.id, person, urgent)
               for person in sorted(subscription.people) for urgent in (True, False)]
        return [lane for lane in map(self.lane, ids) if lane is not None]

    def deliveries(self, subscription_id: UUID, status: str | None) -> list[Delivery]:
        subscription = self.subscription(subscription_id)
        items = [item for lane in self.lanes_of(subscription) for item in lane.items.values()]
        return sorted((i for i in items if status is None or i.status == status), key=lambda i: i.sequence)

    def replay(self, subscription_id: UUID, sequence: int | None, since: datetime | None) -> tuple[list[int], list[UUID]]:
        """Requeue one delivery, or every parked one queued since a time: the sequence numbers
        requeued and the lanes that now have work."""
        subscription = self.subscription(subscription_id)
        now, requeued, lanes = self.now(), [], []
        for lane in self.lanes_of(subscription):
            if not lane.replayable(sequence, since):
                continue

            def requeue(found: list[Any]) -> None:
                for number in found[0].replayable(sequence, since):
                    found[0].requeue(sequence=number, at=now)
                    requeued.append(number)
            self._change([lane.id], requeue)
            lanes.append(lane.id)
        return sorted(requeued), lanes

    def refusal(self, owner: Owner, person_id: str, notification_id: str, category: str,
                at: datetime) -> str | None:
        """Why the owner may not be sent this notice now (None: they may), from the person's team,
        consent directives and the notice's audience as they are at this moment."""
        return self.refusals([(owner, person_id, notification_id, category)], at)[0]

    def refusals(self, sends: Sequence[tuple[Owner, str, str, str]], at: datetime) -> list[str | None]:
        """`refusal` of each (owner, person id, notification id, category), the people's followers
        read with one query (the kept copies brought up to date, not a replay of each history)."""
        application = self.application
        wanted: dict[str, set[str]] = {}
        for _, person_id, notification_id, _ in sends:
            wanted.setdefault(person_id, set()).add(notification_id)
        follower_ids = {person_id: application.follower_class.create_id(person_id=UUID(person_id))
                        for person_id in wanted}
        people = application.read_current_many({follower_ids[person_id]: facts_for(notices)
                                                for person_id, notices in wanted.items()})
        refusals: list[str | None] = []
        for owner, person_id, notification_id, category in sends:
            found = people.get(follower_ids[person_id])
            if found is None:
                refusals.append("no such person is known here")
                continue
            notices, known = found
            audience, named = notices.get(notification_id, ("care_team", ()))
            team, consents, programs = application.as_one_person(known)  # merges followed (the survivor's team)
            refusals.append(owner_refusal(owner, category, audience, named, team, consents, at,
                                          getattr(application, "agency_supervisors", ()), programs))
        return refusals

    def notice_message(self, person_id: str, notification_id: str) -> str | None:
        due = self.application.due_notifications(UUID(person_id)) or []
        return next((n.message for n in due if n.notification_id == notification_id), None)

    def suppress(self, lane_id: UUID, sequence: int, reason: str) -> LaneHead:
        """The item suppressed with the reason; the lane as saved (its next item)."""
        at = self.now()
        [lane] = self._change([lane_id], lambda found: found[0].suppress(sequence=sequence, at=at, reason=reason))
        return lane_head(lane)

    def defer(self, lane_id: UUID, sequence: int, until: datetime, reason: str) -> LaneHead:
        [lane] = self._change([lane_id], lambda found: found[0].defer(sequence=sequence, until=until, reason=reason))
        return lane_head(lane)

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

    def _change(self, ids: Sequence[UUID], change: Callable[[list[Any]], None]) -> list[Any]:
        """Change these (existing) aggregates and save them together, retried on what is stored
        when another writer (a replica) saved one of them meanwhile."""
        with self.holding(ids):
            for _ in range(SAVE_ATTEMPTS):
                found = self.application.check_out_many(ids)
                aggregates = [found[i] for i in ids]
                change(aggregates)
                try:
                    self.application.record(*aggregates)
                    self.saved(ids)
                    return aggregates
                except IntegrityError:
                    self.application.forget(ids)
        raise RuntimeError("could not save: kept conflicting with other writers")

    @contextlib.contextmanager
    def holding(self, ids: Iterable[UUID]) -> Iterator[None]:
        """The write locks of these aggregates, taken in sorted order so that two writers never
        wait for each other in a circle."""
        with contextlib.ExitStack() as held:
            for aggregate_id in sorted(set(ids)):
                held.enter_context(self._write_locks.hold(aggregate_id))
            yield


def facts_for(notification_ids: set[str]) -> Callable[[Any], tuple[dict[str, tuple[str, tuple[str, ...]]], Any]]:
    """A view of a person's follower for access checks: the audience of these notices, and the
    person's facts (copied out: the view runs under the kept copy's lock)."""
    def facts(person: Any) -> tuple[dict[str, tuple[str, tuple[str, ...]]], Any]:
        notices = {n.notification_id: (n.audience, tuple(n.named)) for n in person.due
                   if n.notification_id in notification_ids}
        return notices, person_facts(person)
    return facts


def detached_subscription(subscription: Subscription) -> Subscription:
    """A copy for a reader: `read_current` changes its kept copy in place as events arrive."""
    found = copy.copy(subscription)
    found.people, found.secrets = set(subscription.people), list(subscription.secrets)
    return found


def detached_lane(lane: DeliveryLane) -> DeliveryLane:
    found = copy.copy(lane)
    found.items, found.pending = dict(lane.items), set(lane.pending)
    return found


@dataclass(frozen=True)
class LaneHead:
    """What the dispatcher needs of a lane: whose it is, and its next item (None: nothing pending)."""

    subscription_id: UUID
    person_id: str
    urgent: bool
    head: Delivery | None


def lane_head(lane: DeliveryLane) -> LaneHead:
    """Without copying the lane's items (every item it ever had): the head is immutable."""
    return LaneHead(lane.subscription_id, lane.person_id, lane.urgent, lane.head())


def owns(principal: Principal, owner: Owner) -> bool:
    """Whether `principal` manages a subscription of `owner`: the owner themselves (for an app, a
    token of that app). Supervisors also manage every subscription (`may_manage`)."""
    if owner.app is not None:
        return principal.role is Role.CARE_TEAM_APP and principal.app == owner.app
    return principal.subject == owner.subject and principal.role.value == owner.role


def may_manage(principal: Principal, owner: Owner) -> bool:
    return owns(principal, owner) or principal.role is Role.SUPERVISOR


def is_staff(principal: Principal) -> bool:
    return principal.role in STAFF

