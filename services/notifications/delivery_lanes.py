"""The delivery lanes of webhook subscriptions (one per subscription, person and urgency), as the
dispatcher and the HTTP API use them: their heads read, their deliveries listed and replayed, and
what the dispatcher decided about a send recorded (suppressed, deferred).

A mixin of WebhookSubscriptions: it relies on its clock (`now`) and its subscriptions
(`subscription`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.notifications.domain.delivery import Delivery, DeliveryLane
from services.notifications.domain.subscriptions import Subscription
from services.notifications.webhook_writes import WebhookWrites


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


def detached_lane(lane: DeliveryLane) -> DeliveryLane:
    """A copy for a reader: `read_current` changes its kept copy in place as events arrive."""
    found = copy.copy(lane)
    found.items, found.pending = dict(lane.items), set(lane.pending)
    return found


class DeliveryLanes(WebhookWrites):
    now: Callable[[], datetime]
    subscription: Callable[[UUID], Subscription]

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

    def suppress(self, lane_id: UUID, sequence: int, reason: str) -> LaneHead:
        """The item suppressed with the reason; the lane as saved (its next item)."""
        at = self.now()
        [lane] = self._change([lane_id], lambda found: found[0].suppress(sequence=sequence, at=at, reason=reason))
        return lane_head(lane)

    def defer(self, lane_id: UUID, sequence: int, until: datetime, reason: str) -> LaneHead:
        [lane] = self._change([lane_id], lambda found: found[0].defer(sequence=sequence, until=until, reason=reason))
        return lane_head(lane)
