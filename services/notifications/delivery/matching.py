"""Matching notices to webhook subscriptions, each exactly once and in the log's order.

Follows notifications' own notification log: the notices due (`NotificationDue`) and the
subscriptions' settings (created, changed, enabled, disabled, deleted). For each notice, in log
order, every active subscription that wants it gets it as its next numbered event and a place in
the lane of that person (shared/log_tailing.py runs the loop). The matches of a batch and the
log position read to commit as tracking in one transaction, so a restart neither skips nor repeats
one. Since settings are read in the same order, a subscription sees only notices recorded after
it was made, and a change applies from where it stands in the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from services.notifications.domain.notifications import PersonNotifications
from services.notifications.domain.subscriptions import Subscription
from services.notifications.match_recording import Match, RecordedMatches
from services.notifications.subscriptions_app import WebhookSubscriptions
from shared.hop_marks import mark, marking
from shared.log_tailing import LogTailLoop
from shared.log_reading import LogReader, RunSync
from shared.topics import stored_topics

log = logging.getLogger(__name__)
# How far past the saved position the matcher reads without saving it when nothing matched.
UNRECORDED_LIMIT = 10_000
NOTHING_TO_RECORD = object()  # the batch matched nothing, and the position need not be saved yet

NOTICE_TOPICS = frozenset(stored_topics(PersonNotifications.NotificationDue))
SETTINGS_TOPICS = frozenset(topic for event_class in (
    Subscription.Created, Subscription.Changed, Subscription.Enabled, Subscription.Disabled, Subscription.Deleted,
) for topic in stored_topics(event_class))


class SubscriptionMatcher(LogTailLoop):
    kind = "webhook matching"
    name = "notifications-webhook-matching"
    wakes_for = NOTICE_TOPICS | SETTINGS_TOPICS

    def __init__(self, webhooks: WebhookSubscriptions, reader: LogReader, run_sync: RunSync,
                 on_lanes: Callable[[Iterable[UUID], Iterable[int]], None], batch_size: int = 200,
                 idle_poll_seconds: float = 1.0) -> None:
        super().__init__(idle_poll_seconds)
        self._webhooks = webhooks
        self._application = webhooks.application
        self._reader = reader
        self._run_sync = run_sync
        self._on_lanes = on_lanes  # tells the dispatcher (in this process) of lanes with new work, and where
        self._batch_size = batch_size
        self._subscriptions: dict[UUID, Subscription] = {}
        self._loaded = False
        self._recorded = 0  # the position last saved

    async def run(self) -> None:
        try:
            await self.tail()
        finally:
            await self._reader.close()

    async def step(self) -> bool:
        if not self._loaded:
            await self._load()
        batch, read_to = await self._reader.read(self.position, self._batch_size, sorted(self.wakes_for))
        if not batch:  # nothing it reads: no need to record having read past it
            self.position = max(self.position, read_to)
            return False
        recorded = await self._run_sync(self._match_and_record, batch, read_to)  # one hop for both
        if recorded is NOTHING_TO_RECORD:
            self.position = read_to
            return True
        if not isinstance(recorded, RecordedMatches):  # None: another process recorded this position,
            self._loaded = False  # go on from the stored one
            return True
        self.position = self._recorded = read_to
        if recorded.lanes:
            self._on_lanes(recorded.lanes, recorded.positions)
        return True

    def _match_and_record(self, batch: Iterable[Notification], read_to: int) -> RecordedMatches | None | object:
        """On the pool: the batch's matches, recorded with the position read to (None: another
        process had recorded it), or NOTHING_TO_RECORD."""
        started = time.time()
        matches = self._matches(batch)
        if marking():
            for person_id in {match.person_id for match in matches if match.urgent}:
                mark("matching", person_id, started)
        if not matches and read_to - self._recorded < UNRECORDED_LIMIT:
            # Nothing to record: a restart reads this stretch again, and subscriptions made after
            # the saved position are loaded only where the log makes them, so it finds nothing
            # again (a filter changed meanwhile may apply from a little earlier than it was
            # changed). Saving the position for every notice would double notifications' commits.
            return NOTHING_TO_RECORD
        recorded = self._webhooks.record_matches(matches, read_to)
        if marking():
            for person_id in {match.person_id for match in matches if match.urgent}:
                mark("matched", person_id)
        return recorded

    async def _load(self) -> None:
        """The position matched up to, and the subscriptions' settings as they stood there."""
        self.position = self._recorded = await self._run_sync(self._webhooks.matched_position)
        self._subscriptions.clear()
        after = 0
        while after < self.position:
            batch, after = await self._reader.read(after, 1000, sorted(SETTINGS_TOPICS), stop=self.position)
            for notification in batch:
                await self._run_sync(self._refresh, UUID(str(notification.originator_id)))
        self._loaded = True

    def _refresh(self, subscription_id: UUID) -> None:
        found = self._webhooks.subscription_or_none(subscription_id)
        if found is None or not found.active:
            self._subscriptions.pop(subscription_id, None)
        else:
            self._subscriptions[subscription_id] = found

    def _matches(self, batch: Iterable[Notification]) -> list[Match]:
        matches: list[Match] = []
        for notification in batch:
            if notification.topic in SETTINGS_TOPICS:
                self._refresh(UUID(str(notification.originator_id)))
                continue
            notice: Any = self._application.mapper.to_domain_event(notification)
            person_id = str(notification.originator_id)
            wanted = [s for s in self._subscriptions.values() if s.filters.team_member is not None]
            team = frozenset(self._application.followed_team(UUID(person_id))) if wanted else frozenset()
            for subscription in self._subscriptions.values():
                if subscription.filters.wants(notice.kind, notice.urgent, person_id, team):
                    matches.append(Match(subscription.id, notice.upstream.event_id, person_id, notice.kind,
                                         notice.urgent, notice.category, notice.due_at))
        return matches
