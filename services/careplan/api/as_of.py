"""For auditors: a person's record in careplan as it was at a past moment (`GET
/audit/people/{id}/as-of?at=`), rebuilt from the events stored up to it (services/careplan/as_of.py).

The parts answer in the shapes of the live endpoints (`/team`, `/plan`, `/safety-plan`,
`/picture`), so what an auditor is shown for a moment can be compared field by field with what the
team was shown then. Consent directives have no live endpoint in careplan: they are careplan's copy
of intake's directives, with whether each was in force at that moment.
"""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import AwareDatetime, BaseModel, Field

from services.careplan.api.picture import PictureView
from services.careplan.api.plan_views import CarePlanView, plan_view
from services.careplan.api.safety_plan import SafetyPlanView
from services.careplan.api.team import CareTeamView, MembershipView
from services.careplan.as_of import InTheFuture, RecordAsOf, record_as_of
from services.careplan.deps import Access, Application, ServiceFoundation
from shared.access import Right
from shared.consent import CATEGORIES
from shared.http import CurrentPrincipal
from shared.recorded_reads import RecordedRead


class ConsentDirectiveView(BaseModel):
    directive_id: str
    recipient_kind: str
    recipient_id: str | None
    categories: list[str]
    starts_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    in_force: bool = Field(description="At the moment asked: started, not expired, not revoked")


class RecordAsOfView(BaseModel):
    """Careplan's record of the person as it stood at `at`."""

    person_id: UUID
    at: datetime
    care_team: CareTeamView = Field(description="As GET /people/{id}/team answered then (history up to then)")
    care_plan: CarePlanView | None = Field(description="As GET /people/{id}/plan answered then (null: no plan yet)")
    consent_directives: list[ConsentDirectiveView] = Field(
        description="The directives careplan had heard of by then, revocations included")
    safety_plan: SafetyPlanView | None = Field(
        description="As GET /people/{id}/safety-plan answered then (null: none written yet)")
    picture: PictureView = Field(description="As GET /people/{id}/picture answered then")


def as_of_view(record: RecordAsOf) -> RecordAsOfView:
    """The record in the live endpoints' shapes."""
    person_id, at = record.person_id, record.at
    team = CareTeamView.of(person_id, record.team, through_merge=record.joined_through_merge).model_copy(update={"history": [
        MembershipView(member_id=p.member_id, role=p.role, joined_at=p.joined_at, left_at=p.left_at,
                       program_id=p.program.program_id if p.program else None,
                       program_kind=p.program.kind if p.program else None)
        for p in record.team_history]})
    safety = record.safety_plan
    return RecordAsOfView(
        person_id=person_id, at=at, care_team=team,
        care_plan=None if record.plan is None else plan_view(record.plan, record.next_review),
        consent_directives=[ConsentDirectiveView(
            directive_id=d.directive_id, recipient_kind=d.recipient_kind, recipient_id=d.recipient_id,
            categories=list(d.categories), starts_at=d.starts_at, expires_at=d.expires_at, revoked_at=d.revoked_at,
            in_force=any(d.allows(d.recipient_kind, d.recipient_id, c, at) for c in CATEGORIES))
            for d in record.consents],
        safety_plan=None if safety is None else SafetyPlanView(
            person_id=person_id, version=safety.current.number, latest_version=safety.latest_number,
            written_at=safety.current.written_at,
            sections={name: list(items) for name, items in safety.current.sections.items()},
            needs_review=safety.needs_review, record_id=person_id,
            versions_by_record={person_id: safety.latest_number}),
        picture=PictureView.model_validate(record.picture),
    )


router = APIRouter(prefix="/audit/people", tags=["audit"])


@router.get("/{person_id}/as-of", response_model=RecordAsOfView,
            summary="The person's care team, care plan, consent directives, safety plan and integrated picture "
                    "exactly as they were at a past moment, rebuilt from the events up to it",
            description="For auditors, and for the person their own record. 404 if careplan had not heard of "
                        "the person by then (or they are outside the caller's reach); 422 naming `at` for a "
                        "moment in the future or without a time zone.")
async def get_record_as_of(person_id: UUID, principal: CurrentPrincipal, foundation: ServiceFoundation,
                           application: Application, authorized: Access, read: RecordedRead,
                           at: AwareDatetime = Query(description="The moment, ISO 8601 with a zone")):
    async with read.of(person_id, "record as of a past moment"):
        await authorized(principal, Right.READ_RECORD_AS_OF, person_id)
        try:
            record = await foundation.run_sync(record_as_of, application, person_id, at, datetime.now(timezone.utc))
        except InTheFuture as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [
                {"loc": ["query", "at"], "msg": str(error), "type": "value_error"}]) from None
        if record is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
        return as_of_view(record)
