"""Recording the matcher's matches (delivery/matching.py finds them): each notice wanted by a
subscription gets the subscription's next number and an item in the person's delivery lane, in
the same transaction as the log position it was read at.

A mixin of WebhookSubscriptions: it relies on its clock (`now`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking

from services.notifications.domain.delivery import DeliveryLane
from services.notifications.domain.subscriptions import Subscription
from services.notifications.webhook_writes import SAVE_ATTEMPTS, WebhookWrites

MATCHING = "webhook-matching"  # the tracking name of matching's position in the notification log


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


class MatchRecording(WebhookWrites):
    now: Callable[[], datetime]

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
