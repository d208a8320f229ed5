"""Notifications due to a person's care team, decided from what other services publish.

This records that a notification is due; delivering it (webhooks, live stream) comes later. Who it
is for is data (`audience`, and members it names): domain/routing.py's `recipients` turns it into
members with the team as it is when the notification is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from eventsourcing.domain import event

from services.notifications.domain.disclosure import TEAM_ONLY
from services.notifications.domain.follow_ups import FollowsCrisisFollowUps
from shared.consent import ConsentDirective
from shared.domain import UpstreamRef


@dataclass(frozen=True)
class DueNotification:
    notification_id: str  # the id of the upstream event that made it due, or of the follow-up's step
    kind: str
    audience: str  # a routing.Audience
    message: str
    due_at: datetime
    urgent: bool = False
    category: str = TEAM_ONLY  # what it reveals, as a consent category (domain/disclosure.py)
    named: tuple[str, ...] = ()  # members the audience names besides its roles (routing.recipients)


class PersonNotifications(FollowsCrisisFollowUps):
    """What the person's care team is due to hear, who is on that team, the person's consent
    directives (enough to decide at send time who may be sent each notification), and the crisis
    follow-ups that escalate when overdue (domain/follow_ups.py)."""

    if TYPE_CHECKING:  # The classes @event("...") defines as the class body runs, for mypy (fields unseen)
        NotificationDue: ClassVar[type[Any]]
        DuplicateMergedIn: ClassVar[type[Any]]
        MergedAway: ClassVar[type[Any]]
        MergeUndoneNoted: ClassVar[type[Any]]

    def __init__(self, person_id) -> None:  # noqa: ANN001
        super().__init__(person_id)
        self.due: list[DueNotification] = []
        self.consents: dict[str, ConsentDirective] = {}
        # Intake's merges: records merged into this one, and the record this one was merged into.
        # A notice about either is decided with the survivor's team and both records' directives
        # (NotificationsApplication.as_one_person).
        self.merged_duplicates: list[str] = []
        self.merged_into: str | None = None

    @event("NotificationDue")
    def notification_due(
        self, upstream: UpstreamRef, kind: str, audience: str, message: str, due_at: datetime, urgent: bool = False,
        category: str = TEAM_ONLY, named: tuple[str, ...] = (),
    ) -> None:
        # Events stored before `category` or `named` existed decode with their defaults.
        self._advance(upstream)
        # One upstream event causes at most one notification: its id names the cause. (A crisis
        # follow-up's step names the step: domain/follow_ups.py: step_cause.)
        self.due.append(DueNotification(upstream.event_id, kind, audience, message, due_at, urgent, category,
                                         tuple(named)))

    @event("NothingToNotify")
    def nothing_to_notify(self, upstream: UpstreamRef) -> None:
        self._advance(upstream)

    @event("ConsentNoted")
    def note_consent(self, upstream: UpstreamRef, directive_id: str, recipient_kind: str, recipient_id: str | None,
                     categories: list[str], starts_at: datetime, expires_at: datetime | None) -> None:
        self._advance(upstream)
        self.consents[directive_id] = ConsentDirective(directive_id, recipient_kind, recipient_id, tuple(categories),
                                                       starts_at, expires_at)

    @event("ConsentRevocationNoted")
    def note_consent_revoked(self, upstream: UpstreamRef, directive_id: str, revoked_at: datetime) -> None:
        self._advance(upstream)
        if directive_id in self.consents:  # intake publishes a revocation only after its grant
            self.consents[directive_id] = self.consents[directive_id].revoked(revoked_at)

    @event("DuplicateMergedIn")
    def note_duplicate_merged(self, upstream: UpstreamRef, duplicate_id: str) -> None:
        self._advance(upstream)
        if duplicate_id not in self.merged_duplicates:
            self.merged_duplicates.append(duplicate_id)

    @event("MergedAway")
    def note_merged_into(self, upstream: UpstreamRef, survivor_id: str) -> None:
        self._advance(upstream)
        self.merged_into = survivor_id

    @event("MergeUndoneNoted")
    def note_merge_undone(self, upstream: UpstreamRef, survivor_id: str, duplicate_id: str) -> None:
        self._advance(upstream)
        if duplicate_id in self.merged_duplicates:
            self.merged_duplicates.remove(duplicate_id)
        if str(self.id) == duplicate_id:
            self.merged_into = None
