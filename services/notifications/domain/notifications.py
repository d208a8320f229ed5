"""Notifications due to a person's care team, decided from what other services publish.

This records that a notification is due; delivering it (webhooks, live stream) comes later. Who it
is for is data (`audience`, and members it names): domain/routing.py's `recipients` turns it into
members with the team as it is when the notification is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from eventsourcing.domain import event

from services.notifications.domain.follow_ups import FollowsCrisisFollowUps
from shared.domain import UpstreamRef


@dataclass(frozen=True)
class DueNotification:
    notification_id: str  # the id of the upstream event that made it due, or of the follow-up's step
    kind: str
    audience: str  # a routing.Audience
    message: str
    due_at: datetime
    urgent: bool = False
    named: tuple[str, ...] = ()  # members the audience names besides its roles (routing.recipients)


class PersonNotifications(FollowsCrisisFollowUps):
    """What the person's care team is due to hear, who is on that team, and the crisis follow-ups
    that escalate when overdue (domain/follow_ups.py)."""

    def __init__(self, person_id) -> None:  # noqa: ANN001
        super().__init__(person_id)
        self.due: list[DueNotification] = []

    @event("NotificationDue")
    def notification_due(
        self, upstream: UpstreamRef | None, kind: str, audience: str, message: str, due_at: datetime,
        urgent: bool = False, named: tuple[str, ...] = (), notification_id: str | None = None,
    ) -> None:
        # Events stored before `named` and `notification_id` existed decode with their defaults.
        if upstream is not None:
            self._advance(upstream)
        # One upstream event causes at most one notification: its id names the cause. A follow-up's
        # step (no upstream event: the timer took it) names itself.
        cause = notification_id or (upstream.event_id if upstream is not None else "")
        self.due.append(DueNotification(cause, kind, audience, message, due_at, urgent, tuple(named)))

    @event("NothingToNotify")
    def nothing_to_notify(self, upstream: UpstreamRef) -> None:
        self._advance(upstream)
