"""What each webhook lane sends next, decided on the pool's threads for the dispatcher
(delivery/dispatch.py), many lanes at once (its group commits hand over batches).

A lane's head is sent only once it is due, its subscription active and outside quiet hours (or
the item urgent), and the owner's access allows it at that moment (`WebhookSubscriptions.refusal`):
refused, the item is suppressed with the reason and the lane's next item is looked at. What is
sent is signed here, with the subscription as it was read. After an attempt is recorded, the
lane's next send is decided from the lane as saved with it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from services.notifications.delivery.attempts import AttemptMade
from services.notifications.delivery.due_lanes import DueLanes
from services.notifications.delivery.metrics import WebhookMetrics
from services.notifications.delivery.settings import WebhookSettings
from services.notifications.delivery.signing import payload, signed_request
from services.notifications.domain.delivery import PENDING, AttemptOutcome, Delivery
from services.notifications.domain.subscriptions import SUMMARY, Subscription
from services.notifications.delivery_lanes import LaneHead
from services.notifications.subscriptions_app import WebhookSubscriptions

# The attempts and suppressions are the dispatcher's doing, and logged under its name.
log = logging.getLogger("services.notifications.delivery.dispatch")


@dataclass(frozen=True)
class Send:
    """The lane's head, ready to post: decided, signed, with the subscription as it was read."""

    lane_id: UUID
    subscription: Subscription
    head: Delivery
    data: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Later:
    """Nothing to send now; look at the lane again at `at` (seconds since the epoch), or never (None)."""

    at: float | None


class SendDecisions:
    """The dispatcher's work on the pool: reads, decisions and records, never a request."""

    def __init__(self, webhooks: WebhookSubscriptions, settings: WebhookSettings, due: DueLanes,
                 metrics: WebhookMetrics | None) -> None:
        self._webhooks = webhooks
        self._settings = settings
        self._due = due
        self._metrics = metrics

    def first_sends_of(self, lane_ids: Sequence[UUID]) -> list[Send | Later | Exception]:
        """On the pool: each lane's head ready to send, or when to look at it again."""
        heads = self._webhooks.lane_heads(lane_ids)
        return self._prepare_sends({lane_id: heads.get(lane_id) for lane_id in lane_ids})

    def record_and_go_on(self, sent: Sequence[tuple[Send, AttemptOutcome, float | None]]) -> list[Send | Later | Exception]:
        """On the pool: record the attempts (one transaction); then each lane's next send, or when
        to look again, from the lane as saved with its attempt (no read of it)."""
        webhooks, settings = self._webhooks, self._settings
        attempted_at = webhooks.now()
        recorded = webhooks.record_attempts([
            AttemptMade(send.lane_id, send.subscription.id, send.head.sequence, attempted_at, outcome,
                        settings.webhook_urgent_retry_delays if send.head.urgent else settings.webhook_routine_retry_delays,
                        retry_after, outcome.status_code == 410)
            for send, outcome, retry_after in sent])
        steps: dict[int, Send | Later | Exception] = {}
        go_on: dict[UUID, LaneHead | None] = {}
        for index, ((send, outcome, _), result) in enumerate(zip(sent, recorded, strict=True)):
            if isinstance(result, Exception):
                steps[index] = result
                continue
            if self._metrics is not None:
                self._metrics.attempted(send.head, outcome, result.item.status, attempted_at)
            log.info("webhook attempt", extra={"subscription_id": str(send.subscription.id),
                                               "sequence": send.head.sequence, "result": outcome.result,
                                               "latency_ms": outcome.latency_ms})
            if result.item.status == PENDING:
                steps[index] = Later(result.item.due_at.timestamp())
            else:
                go_on[send.lane_id] = result.lane
        next_sends = dict(zip(go_on, self._prepare_sends(go_on), strict=True)) if go_on else {}
        return [steps[index] if index in steps else next_sends[send.lane_id] for index, (send, _, _) in enumerate(sent)]

    def _prepare_sends(self, lanes: dict[UUID, LaneHead | None]) -> list[Send | Later | Exception]:
        """On the pool: for each lane (as read), its head ready to send, deciding on the way what
        is not to be sent (deferred for quiet hours, suppressed for the owner's access as it is
        now: the people's followers read with one query for all the lanes)."""
        webhooks = self._webhooks
        steps: dict[UUID, Send | Later | Exception] = {}
        pending = dict(lanes)
        while pending:
            now = webhooks.now()
            to_check: list[tuple[UUID, LaneHead, Delivery, Subscription]] = []
            for lane_id, lane in pending.items():
                step: Later | tuple[UUID, LaneHead, Delivery, Subscription] | Exception
                try:
                    step = self._before_access(lane_id, lane, now)
                except Exception as error:  # noqa: BLE001 - one lane's failure must not stop the others
                    step = error
                if isinstance(step, tuple):
                    to_check.append(step)
                else:
                    steps[lane_id] = step
            pending = {}
            if not to_check:
                break
            refusals = webhooks.refusals([(subscription.owner, lane.person_id, head.notification_id, head.category)
                                          for _, lane, head, subscription in to_check], now)
            for (lane_id, lane, head, subscription), refusal in zip(to_check, refusals, strict=True):
                try:
                    if refusal is None:
                        steps[lane_id] = self._signed(lane_id, lane, head, subscription, now)
                        continue
                    pending[lane_id] = webhooks.suppress(lane_id, head.sequence, refusal)  # then its next item
                    log.info("webhook suppressed", extra={"subscription_id": str(subscription.id),
                                                          "sequence": head.sequence})
                except Exception as error:  # noqa: BLE001
                    steps[lane_id] = error
        return [steps[lane_id] for lane_id in lanes]

    def _before_access(self, lane_id: UUID, lane: LaneHead | None,
                       now: datetime) -> Later | tuple[UUID, LaneHead, Delivery, Subscription]:
        """What can be decided of a lane's head without the owner's access: nothing to send, not
        due, the subscription not active, quiet hours; else what to check the access of."""
        webhooks = self._webhooks
        while True:
            head = lane.head if lane is not None else None
            if lane is None or head is None:
                return Later(None)
            self._due.learn(lane_id, lane.urgent)  # a set's add or discard: safe from the pool's thread
            if head.due_at > now:
                return Later(head.due_at.timestamp())
            subscription = webhooks.settings_of(lane.subscription_id)
            if subscription is None or not subscription.active:
                return Later(None)  # enabling it again nudges its lanes
            quiet = subscription.quiet_hours
            if head.urgent or quiet is None or not quiet.holds(now):
                return lane_id, lane, head, subscription
            until = quiet.ends_after(now)
            lane = webhooks.defer(lane_id, head.sequence, until, "quiet hours")  # then its head is due then

    def _signed(self, lane_id: UUID, lane: LaneHead, head: Delivery, subscription: Subscription, now: datetime) -> Send:
        webhooks = self._webhooks
        summary = (webhooks.notice_message(lane.person_id, head.notification_id)
                   if subscription.content == SUMMARY else None)
        body = payload(subscription.id, head, self._settings.webhook_public_base_url.rstrip("/"), summary)
        data, headers = signed_request(subscription.id, head, body, subscription.signing_secrets(now),
                                       datetime.now(UTC))  # the receiver checks it against its own clock
        return Send(lane_id, subscription, head, data, headers)
