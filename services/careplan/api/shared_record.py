"""What family, natural supports and outside agencies see of a person: only what the person
consented to share with them, decided at the moment of reading."""

from __future__ import annotations

from datetime import date, datetime, timezone
from uuid import UUID

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.careplan.api.plan import SHARING_CATEGORY, SharingCategory
from services.careplan.api.plan_views import CarePlanView
from services.careplan.deps import Application, Plans, ServiceFoundation
from services.careplan.domain.sharing import SharedRecord
from shared.access import Principal, Right, Role, check_has_right, MissingRight
from shared.consent import CATEGORIES
from shared.recorded_reads import stated_purpose
from shared.http import CurrentPrincipal, RefusedRequest, RequestProvenance
from shared.recorded_reads import RecordedRead


class SharedGoal(BaseModel):
    in_own_words: str
    life_domain: str | None


class SharedSupport(BaseModel):
    life_domain: str
    description: str
    provided_by: str


class SharedScreening(BaseModel):
    instrument: str
    domain: str
    band: str | None
    positive: bool | None
    scored_at: datetime


class SharedCrisisContact(BaseModel):
    kind: str
    occurred_at: datetime
    outcome: str


class SharedSafetyPlan(BaseModel):
    version: int
    sections: dict[str, list[str]]


class SharedRecordView(BaseModel):
    """Absent (null) parts are withheld: the person has not consented to share them with you."""

    person_id: UUID
    categories_shared: list[str]
    categories_withheld: list[str]
    preferred_name: str | None = None
    goals: list[SharedGoal] | None = None
    supports: list[SharedSupport] | None = None
    next_review_on: date | None = None
    screening_results: list[SharedScreening] | None = Field(None, description="Latest result per shared domain")
    crisis_contacts: list[SharedCrisisContact] | None = None
    safety_plan: SharedSafetyPlan | None = None


class MarkSharing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sharing_category: SharingCategory | None = Field(description=SHARING_CATEGORY)


def recipient(principal: Principal) -> tuple[str, str | None]:
    """Who the caller is in the terms consent directives use."""
    if principal.role is Role.OUTSIDE_AGENCY:
        return "outside_agency", principal.agency
    return "named_person", principal.subject


StatedPurpose = Annotated[str, Depends(stated_purpose)]

router = APIRouter(prefix="/people", tags=["shared by consent"])


@router.put("/{person_id}/plan/goals/{goal_id}/sharing-category", response_model=CarePlanView,
            tags=["care plan"], summary="The person marks in which consent category a goal may be shared "
                                        "outside the team (null: within the team only)")
async def mark_goal_sharing(person_id: UUID, goal_id: str, body: MarkSharing, provenance: RequestProvenance,
                            response: Response, principal: CurrentPrincipal, application: Application, plans: Plans):
    return await plans.change(principal, Right.WRITE_CARE_PLAN, person_id, response, application.mark_goal_sharing,
                              goal_id, body.sharing_category, provenance)


@router.put("/{person_id}/plan/supports/{support_id}/sharing-category", response_model=CarePlanView,
            tags=["care plan"], summary="The person marks in which consent category a support may be shared "
                                        "outside the team (null: within the team only)")
async def mark_support_sharing(person_id: UUID, support_id: str, body: MarkSharing,
                               provenance: RequestProvenance, response: Response, principal: CurrentPrincipal,
                               application: Application, plans: Plans):
    return await plans.change(principal, Right.WRITE_CARE_PLAN, person_id, response,
                              application.mark_support_sharing, support_id, body.sharing_category, provenance)


@router.get("/{person_id}/shared", response_model=SharedRecordView, response_model_exclude_none=False,
            summary="For family, natural supports and outside agencies: what the person shares with you "
                    "(404 if nothing)")
async def get_shared_record(person_id: UUID, principal: CurrentPrincipal, provenance: RequestProvenance,
                            purpose: StatedPurpose, foundation: ServiceFoundation, application: Application,
                            read: RecordedRead):
    """Each answer is a disclosure outside the treating team: it is recorded in the person's
    accounting of disclosures (`GET /audit/people/{id}/disclosures`) before it is sent, with the
    purpose stated in `X-Purpose-Of-Use`; if it cannot be recorded, 503 and nothing is shown. Like
    every read, it is also an access record (refusals too)."""
    async with read.of(person_id, "record shared by consent"):
        try:
            check_has_right(principal, Right.READ_SHARED_RECORD)
        except MissingRight as refusal:
            raise RefusedRequest(status.HTTP_403_FORBIDDEN, str(refusal)) from None
        kind, recipient_id = recipient(principal)
        record = await foundation.run_sync(application.disclose_shared_record, person_id, kind, recipient_id,
                                           principal.agency, purpose, provenance, datetime.now(timezone.utc))
        if record is None:  # no consent in force for this caller: as if there were no such person
            raise RefusedRequest(status.HTTP_404_NOT_FOUND, "not found")
        return view(record)


def view(record: SharedRecord) -> SharedRecordView:
    return SharedRecordView(
        person_id=record.person_id,
        categories_shared=[c for c in CATEGORIES if c in record.categories],
        categories_withheld=[c for c in CATEGORIES if c not in record.categories],
        preferred_name=record.preferred_name,
        goals=None if record.goals is None else [SharedGoal(in_own_words=g.in_own_words, life_domain=g.life_domain)
                                                 for g in record.goals],
        supports=None if record.supports is None else [
            SharedSupport(life_domain=s.life_domain, description=s.description, provided_by=s.provided_by)
            for s in record.supports],
        next_review_on=record.next_review_on,
        screening_results=None if record.screening_results is None else [
            SharedScreening(instrument=r.instrument, domain=r.domain, band=r.band, positive=r.positive,
                            scored_at=r.scored_at) for r in record.screening_results],
        crisis_contacts=None if record.crisis_contacts is None else [
            SharedCrisisContact(kind=c.kind, occurred_at=c.occurred_at, outcome=c.outcome)
            for c in record.crisis_contacts],
        safety_plan=None if record.safety_plan is None else SharedSafetyPlan(
            version=record.safety_plan.number,
            sections={name: list(items) for name, items in record.safety_plan.sections.items()}),
    )
