"""What webhook delivery tells Prometheus (GET /metrics, in the service's own registry): attempts
by urgency and outcome, deliveries parked after their last retry, and how long an urgent notice
took from its occurrence to reaching a subscriber. Kinds and urgencies only, never ids."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram

from services.notifications.domain.delivery import PARKED, AttemptOutcome, Delivery
from shared.metrics import LATENCY_BUCKETS

# From seconds (a crisis reaching a subscriber at once) to the hour urgent retries last.
NOTICE_TO_DELIVERY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


def urgency(urgent: bool) -> str:
    return "urgent" if urgent else "routine"


class WebhookMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "carecoord_webhook_attempts", "Webhook delivery attempts by urgency and outcome (delivered, failed)",
            ["urgency", "outcome"], registry=registry)
        self.attempt_duration = Histogram(
            "carecoord_webhook_attempt_duration_seconds", "Time one webhook attempt took, answered or not",
            ["urgency"], registry=registry, buckets=LATENCY_BUCKETS)
        self.parked = Counter(
            "carecoord_webhook_parked_deliveries", "Deliveries parked after their last retry, by urgency",
            ["urgency"], registry=registry)
        self.urgent_to_delivery = Histogram(
            "carecoord_urgent_notice_to_delivery_seconds",
            "From an urgent notice's occurrence (a crisis: the screening or contact recorded) to its "
            "delivery to a subscriber, by notice kind", ["kind"], registry=registry,
            buckets=NOTICE_TO_DELIVERY_BUCKETS)

    def attempted(self, item: Delivery, outcome: AttemptOutcome, status_after: str, now: datetime) -> None:
        """One attempt at `item` came to `outcome`, leaving it in `status_after`."""
        kind = urgency(item.urgent)
        self.attempts.labels(kind, "delivered" if outcome.delivered else "failed").inc()
        self.attempt_duration.labels(kind).observe(outcome.latency_ms / 1000)
        if status_after == PARKED:
            self.parked.labels(kind).inc()
        if outcome.delivered and item.urgent:
            # An item is delivered once: this is its first (and only) delivery to this subscriber.
            self.urgent_to_delivery.labels(item.kind).observe(max(0.0, (now - item.occurred_at).total_seconds()))
