"""Notifications' HTTP API: a router at module level, its dependencies from deps.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar
from uuid import UUID

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from services.notifications.application import NotificationsApplication
from services.notifications.deps import Application, ServiceFoundation
from services.notifications.domain.disclosure import PART2_CATEGORIES
from shared.access import Principal, Right
from shared.http import CurrentPrincipal, authorize_request
from shared.recorded_reads import ReadRecording, RecordedRead
from shared.runtime import Foundation

Found = TypeVar("Found")


async def team_read(principal: Principal, person_id: UUID, read: ReadRecording, what: str, foundation: Foundation,
                    application: NotificationsApplication, load: Callable[[UUID], Found | None]) -> Found:
    """What `load` finds for the person, once the caller may read the team's notifications on
    their record (403 naming the right, 404 outside their reach); 404 if none. The read is
    recorded, whatever its outcome, before this returns (shared/recorded_reads.py)."""
    async with read.of(person_id, what):
        record = await foundation.run_sync(application.record_context, person_id)
        authorize_request(principal, Right.READ_NOTIFICATIONS, record)
        found = await foundation.run_sync(load, person_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
        return found


class DueNotificationView(BaseModel):
    notification_id: str
    kind: str
    audience: str
    message: str
    due_at: datetime
    urgent: bool


class DueNotificationsView(BaseModel):
    person_id: UUID
    due: list[DueNotificationView]
    withheld: int = Field(0, description=(
        "How many notices about a Part 2 program's substance-use records are withheld from this reader, a "
        "member from another program, until the person's consent names their program or the care team"))


router = APIRouter(prefix="/people", tags=["notifications"])


@router.get("/{person_id}/notifications", response_model=DueNotificationsView)
async def get_due_notifications(person_id: UUID, principal: CurrentPrincipal, foundation: ServiceFoundation,
                                application: Application, read: RecordedRead):
    # A record intake merged away answers with its survivor's: both records' notices, decided by
    # the survivor's team (the union of both, from careplan).
    survivor = await foundation.run_sync(application.survivor_of, person_id)
    due = await team_read(principal, survivor, read, "due notifications", foundation, application,
                          application.due_notifications_of_person)
    if not await foundation.run_sync(application.part2_shown, principal, survivor, datetime.now(timezone.utc)):
        shown = [n for n in due if n.category not in PART2_CATEGORIES]
    else:
        shown = due
    return DueNotificationsView(
        person_id=survivor,
        due=[DueNotificationView(notification_id=n.notification_id, kind=n.kind, audience=n.audience,
                                 message=n.message, due_at=n.due_at, urgent=n.urgent) for n in shown],
        withheld=len(due) - len(shown),
    )
