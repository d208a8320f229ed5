"""Notifications due to a person's care team, decided from what other services publish.

This records that a notification is due; delivering it (webhooks, live stream) comes later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from eventsourcing.domain import event

from shared.domain import UpstreamRef
from shared.followers import TeamFollower


@dataclass(frozen=True)
class DueNotification:
    notification_id: str  # the id of the upstream event that made it due
    kind: str
    audience: str
    message: str
    due_at: datetime
    urgent: bool = False


class PersonNotifications(TeamFollower):
    """What the person's care team is due to hear, and who is on that team."""

    def __init__(self, person_id) -> None:  # noqa: ANN001
        super().__init__(person_id)
        self.due: list[DueNotification] = []

    @event("NotificationDue")
    def notification_due(
        self, upstream: UpstreamRef, kind: str, audience: str, message: str, due_at: datetime, urgent: bool = False
    ) -> None:
        self._advance(upstream)
        # One upstream event causes at most one notification: its id names the cause.
        self.due.append(DueNotification(upstream.event_id, kind, audience, message, due_at, urgent))

    @event("NothingToNotify")
    def nothing_to_notify(self, upstream: UpstreamRef) -> None:
        self._advance(upstream)
