"""What a webhook carries and how it is signed: the Standard Webhooks specification
(https://www.standardwebhooks.com), signed with its own reference package.

Thin by default: ids, kind, urgency, when, and links the app follows with its own token. With
`content: summary`, also the notice's category and its sentence (composed by notifications from
codes, never clinical free text), sent only to a recipient who may be sent that category.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from standardwebhooks import Webhook

from services.notifications.domain.delivery import Delivery, webhook_id

EVENT_TYPE = "notification.due"


def payload(subscription_id: UUID, delivery: Delivery, base_url: str, summary: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": EVENT_TYPE,
        "subscription_id": str(subscription_id),
        "sequence": delivery.sequence,
        "event_id": delivery.notification_id,
        "kind": delivery.kind,
        "urgency": "urgent" if delivery.urgent else "routine",
        "person_id": delivery.person_id,
        "occurred_at": delivery.occurred_at.isoformat(),
        "links": {
            "notifications": f"{base_url}/people/{delivery.person_id}/notifications",
            "missed": f"{base_url}/subscriptions/{subscription_id}/events?after={delivery.sequence - 1}",
        },
    }
    if summary is not None:
        body["summary"] = {"category": delivery.category, "message": summary}
    return body


def signed_request(subscription_id: UUID, delivery: Delivery, body: dict[str, Any], secrets: list[str],
                   at: datetime) -> tuple[bytes, dict[str, str]]:
    """The body's bytes and the headers that sign them; during a rotation every secret still in
    its overlap signs too (space-separated), so a receiver holding either verifies."""
    data = json.dumps(body, separators=(",", ":"), sort_keys=True)
    message_id = webhook_id(subscription_id, delivery.sequence)
    signatures = " ".join(Webhook(secret).sign(message_id, at, data) for secret in secrets)
    return data.encode(), {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }
