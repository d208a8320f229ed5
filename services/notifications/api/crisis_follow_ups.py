"""Crisis follow-ups over HTTP: read them (with their escalation so far) and acknowledge one.

An acknowledgement says "someone is on it": it stops the escalation. Careplan's record of the
follow-up (`POST /people/{id}/plan/crisis-follow-ups` there) is what closes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from services.notifications.deps import Application, ServiceFoundation
from services.notifications.domain.follow_ups import (
    AlreadyFollowedUp,
    CrisisFollowUp,
    NotAFollowUp,
)
from services.notifications.http import team_read
from shared.access import Right
from shared.http import CurrentPrincipal, authorize_request
from shared.recorded_reads import RecordedRead


async def clock(request: Request) -> Callable[[], float]:
    """The service's clock (seconds since the epoch), the one its follow-up timer reads."""
    return getattr(request.app.state, "clock", time.time)


Clock = Annotated[Callable[[], float], Depends(clock)]


class CrisisFollowUpView(BaseModel):
    contact_id: str
    contact_kind: str | None
    due_at: datetime
    status: str  # open, escalated, acknowledged, followed_up
    steps: dict[str, datetime]  # reminder, escalated_to_coordinator, escalated_to_supervisors: when
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    followed_up_on: date | None
    record_id: UUID | None = Field(None, description=(
        "The record whose crisis contact it follows (after a merge, the survivor lists every record's)"))

    @classmethod
    def of(cls, follow_up: CrisisFollowUp, record_id: UUID | None = None) -> CrisisFollowUpView:
        assert follow_up.due_at is not None
        return cls(record_id=record_id, contact_id=follow_up.contact_id, contact_kind=follow_up.contact_kind, due_at=follow_up.due_at,
                   status=follow_up.status, steps=dict(follow_up.steps), acknowledged_by=follow_up.acknowledged_by,
                   acknowledged_at=follow_up.acknowledged_at, followed_up_on=follow_up.followed_up_on)


class CrisisFollowUpsView(BaseModel):
    person_id: UUID
    follow_ups: list[CrisisFollowUpView]


router = APIRouter(prefix="/people", tags=["crisis follow-ups"])


@router.get("/{person_id}/crisis-follow-ups", response_model=CrisisFollowUpsView)
async def get_crisis_follow_ups(person_id: UUID, principal: CurrentPrincipal, foundation: ServiceFoundation,
                                application: Application, read: RecordedRead):
    # A record intake merged away answers with its survivor's: every record's follow-ups, read by
    # the survivor's team (the union of both), as the due list does.
    survivor = await foundation.run_sync(application.survivor_of, person_id)
    found = await team_read(principal, survivor, read, "crisis follow-ups", foundation, application,
                            application.crisis_follow_ups_of_person)
    return CrisisFollowUpsView(person_id=survivor, follow_ups=[CrisisFollowUpView.of(f, r) for r, f in found])


@router.post("/{person_id}/crisis-follow-ups/{contact_id}/acknowledgements", status_code=status.HTTP_201_CREATED,
             response_model=CrisisFollowUpView,
             responses={200: {"description": "Acknowledged before: the first acknowledgement stands"},
                        409: {"description": "The follow-up is recorded already: nothing left to acknowledge"}})
async def acknowledge_crisis_follow_up(person_id: UUID, contact_id: str, principal: CurrentPrincipal,
                                       foundation: ServiceFoundation, application: Application, now: Clock,
                                       response: Response):
    """Someone notified says they are on it: the follow-up escalates no further. Anyone on the care
    team may, and agency supervisors once it has escalated to supervisors. After a merge, at either
    record's id, a follow-up of any of the person's records, by the survivor's (union) team."""
    survivor = await foundation.run_sync(application.survivor_of, person_id)
    holder = await foundation.run_sync(application.follow_up_holder, survivor, contact_id)
    record = await foundation.run_sync(application.acknowledgement_context, survivor, contact_id,
                                       principal.subject, holder)
    authorize_request(principal, Right.FOLLOW_UP_CRISIS, record)
    at = datetime.fromtimestamp(now(), timezone.utc)
    try:
        # On the record that holds it: its timer runs there, and stops there.
        first = await foundation.run_sync(application.acknowledge_crisis_follow_up, holder, contact_id,
                                          principal.subject, principal.role.value, at)
    except NotAFollowUp:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found") from None
    except AlreadyFollowedUp:
        raise HTTPException(status.HTTP_409_CONFLICT, "the follow-up is recorded: nothing left to acknowledge") from None
    if not first:
        response.status_code = status.HTTP_200_OK
    found = await foundation.run_sync(application.crisis_follow_ups, holder) or []
    return next(CrisisFollowUpView.of(f, holder) for f in found if f.contact_id == contact_id)
