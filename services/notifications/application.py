"""Notification use cases. Synchronous, like all eventsourcing code."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.notifications.domain.notifications import DueNotification, PersonNotifications
from shared.domain import UpstreamRef
from shared.following import FollowerApplication


class NotificationsApplication(FollowerApplication[PersonNotifications]):
    name = "Notifications"
    follower_class = PersonNotifications

    def notify_team(self, upstream: UpstreamRef, kind: str, message: str, due_at: datetime) -> bool:
        return self.apply_upstream(
            upstream, lambda n: n.notification_due(upstream, kind, "care_team", message, due_at)
        )

    def nothing_to_notify(self, upstream: UpstreamRef) -> bool:
        return self.apply_upstream(upstream, lambda n: n.nothing_to_notify(upstream))

    def due_notifications(self, person_id: UUID) -> list[DueNotification] | None:
        found = self.follower(person_id)
        return None if found is None else list(found.due)
