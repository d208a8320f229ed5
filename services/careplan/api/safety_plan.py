"""The person's safety plan over HTTP: every revision is a new version; older ones stay readable."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.careplan.application import CareplanApplication
from services.careplan.deps import Access, Application, ServiceFoundation
from services.careplan.domain.safety_plan import SECTIONS, InvalidSafetyPlan, Section, StaleVersion
from shared.access import Right
from shared.http import CurrentPrincipal, RequestProvenance, invalid_field
from shared.recorded_reads import RecordedRead
from shared.runtime import Foundation

Items = Annotated[list[Annotated[str, Field(max_length=1000)]], Field(max_length=30)]


class ReviseSafetyPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    based_on_version: int = Field(ge=0, description="The version this revision starts from (0 for a first plan); "
                                                    "409 if someone revised the plan meanwhile")
    sections: dict[Section, Items] = Field(
        description="Stanley-Brown sections, each a list in the person's words: " + ", ".join(SECTIONS))


class SafetyPlanView(BaseModel):
    person_id: UUID
    version: int
    latest_version: int
    written_at: datetime
    sections: dict[str, list[str]]
    needs_review: bool = Field(description="A crisis contact came after this version was written")
    record_id: UUID | None = Field(None, description="The record whose safety plan this version is (after a merge, "
                                                     "the newest of the records' plans is current)")
    versions_by_record: dict[UUID, int] = Field(
        {}, description="Each record's latest version (after a merge, every record's versions stay readable: "
                        "?record=...&version=...); revisions are written on the survivor's plan, based on its own")


router = APIRouter(prefix="/people/{person_id}/safety-plan", tags=["safety plan"])


async def view(foundation: Foundation, application: CareplanApplication, person_id: UUID,
               version: int | None = None) -> SafetyPlanView:
    found = await foundation.run_sync(application.safety_plan_version, person_id, version)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    revision, latest, needs_review = found
    return SafetyPlanView(person_id=person_id, version=revision.number, latest_version=latest,
                          written_at=revision.written_at,
                          sections={name: list(items) for name, items in revision.sections.items()},
                          needs_review=needs_review)


@router.get("", response_model=SafetyPlanView, summary="The current safety plan, or an earlier version")
async def get_safety_plan(person_id: UUID, principal: CurrentPrincipal, foundation: ServiceFoundation,
                          application: Application, authorized: Access, read: RecordedRead,
                          version: int | None = Query(None, ge=1, description="An earlier version"),
                          record: UUID | None = Query(None, description="A record merged into this one")):
    async with read.of(person_id, "safety plan"):
        records = await authorized.records(principal, Right.READ_CARE_PLAN, person_id)
        if record is not None and record not in records:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
        latest = await foundation.run_sync(_latest_by_record, application, records)
        shown = record or person_id
        if record is None and version is None and latest:  # the rule after a merge: the newest plan is current
            shown = max(latest, key=lambda r: latest[r][1])
        found = await view(foundation, application, shown, version)
        return found.model_copy(update={"person_id": person_id, "record_id": shown,
                                        "versions_by_record": {r: number for r, (number, _) in latest.items()}})


def _latest_by_record(application: CareplanApplication, records: list[UUID]) -> dict[UUID, tuple[int, datetime]]:
    """Each record's latest version and when it was written (records with no version written left out)."""
    latest = {}
    for record in records:
        plan = application.safety_plan(record)
        if plan is not None and plan.current is not None:
            latest[record] = (plan.current_number, plan.current.written_at)
    return latest


@router.put("", status_code=201, response_model=SafetyPlanView,
            summary="Write the next version of the safety plan, in the person's words")
async def revise_safety_plan(person_id: UUID, body: ReviseSafetyPlan, provenance: RequestProvenance,
                             response: Response, principal: CurrentPrincipal, foundation: ServiceFoundation,
                             application: Application, authorized: Access):
    await authorized(principal, Right.REVISE_SAFETY_PLAN, person_id)
    try:
        await foundation.run_sync(application.revise_safety_plan, person_id, dict(body.sections),
                                  body.based_on_version, datetime.now(timezone.utc), provenance)
    except StaleVersion as conflict:
        raise HTTPException(status.HTTP_409_CONFLICT, str(conflict)) from None
    except InvalidSafetyPlan as error:
        raise invalid_field(error.field, error.message) from None
    return await view(foundation, application, person_id)
