"""Notification use cases. Synchronous, like all eventsourcing code."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.notifications.domain.notifications import DueNotification, PersonNotifications
from services.notifications.follow_up_use_cases import CrisisFollowUpUseCases
from shared.access import RecordContext
from shared.domain import UpstreamRef
from shared.following import FollowerApplication, UpstreamChange


class NotificationsApplication(CrisisFollowUpUseCases, FollowerApplication[PersonNotifications]):
    name = "Notifications"
    follower_class = PersonNotifications

    @staticmethod
    def team_notice(upstream: UpstreamRef, kind: str, message: str, due_at: datetime,
                    urgent: bool = False, audience: str = "care_team") -> UpstreamChange:
        return UpstreamChange(
            upstream, lambda due: due.notification_due(upstream, kind, audience, message, due_at, urgent)
        )

    @staticmethod
    def no_notice(upstream: UpstreamRef) -> UpstreamChange:
        return UpstreamChange(upstream, lambda due: due.nothing_to_notify(upstream))

    def notify_team(self, upstream: UpstreamRef, kind: str, message: str, due_at: datetime) -> bool:
        return self.apply_change(self.team_notice(upstream, kind, message, due_at))

    def nothing_to_notify(self, upstream: UpstreamRef) -> bool:
        return self.apply_change(self.no_notice(upstream))

    def record_context(self, person_id: UUID) -> RecordContext:
        """What decides access, from the team's events alone: the notices are loaded only for
        someone allowed to see them."""
        return RecordContext(person_id, frozenset(self.followed_team(person_id)))

    def due_notifications(self, person_id: UUID) -> list[DueNotification] | None:
        found = self.follower(person_id)
        return None if found is None else list(found.due)
