"""Careplan's HTTP read of the integrated picture: the same view for every team member, and its
FHIR R4 export. Served from the picture read model (services/careplan/picture/)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field

from services.careplan.api.access import TeamAccess
from services.careplan.api.medication import DecisionView, NoteView
from services.careplan.deps import Access, Pictures
from services.careplan.picture.fhir import picture_bundle
from services.careplan.picture.merged import combine
from services.careplan.picture.view import present
from services.careplan.picture.projection import PictureStore
from shared.access import Principal, Right
from shared.http import CurrentPrincipal
from shared.recorded_reads import ReadRecording, RecordedRead

FHIR_JSON = "application/fhir+json"


def part2_mark() -> Any:  # Any, as Field itself, to stand as a field default
    return Field(False, description="A Part 2 substance-use record (42 CFR Part 2): a screening result on "
                                    "substance use, or plan text marked as substance-use information")


class WithheldView(BaseModel):
    """Records left out for this reader: that they exist, never what they are."""

    section: str = Field(description="screenings, goals, supports, medication_notes or prescribing_decisions")
    count: int
    reason: str


class ScreeningView(BaseModel):
    domain: str
    record_id: UUID | None = None  # the record it came from (two after a merge)
    instrument: str
    screening_id: str
    total: int | None
    band: str | None
    positive: bool | None
    flags: list[str]
    complete: bool
    scored_at: datetime
    part2: bool = part2_mark()


class IndicatorValueView(BaseModel):
    value: float
    recorded_on: date
    note: str | None


class GoalView(BaseModel):
    goal_id: str
    record_id: UUID | None = None  # the record it came from (two after a merge)
    in_own_words: str
    team_restatement: str | None
    life_domain: str | None
    indicators: list[str]
    latest_values: dict[str, IndicatorValueView]
    set_at: datetime
    part2: bool = part2_mark()


class CarriedOverGoalView(BaseModel):
    goal_id: str
    record_id: UUID
    in_own_words: str
    status: str


class SupportView(BaseModel):
    support_id: str
    record_id: UUID | None = None  # the record it came from (two after a merge)
    life_domain: str
    description: str
    provided_by: str
    since: datetime
    part2: bool = part2_mark()


class PreferencesView(BaseModel):
    language: str | None
    culture: str | None
    faith: str | None
    who_to_involve: list[str]


class SetbackView(BaseModel):
    setback_id: str
    record_id: UUID | None = None  # the record it came from (two after a merge)
    occurred_on: date
    in_own_words: str
    what_helped: str | None
    goal_ids: list[str]


class MedicationNoteView(NoteView):  # the medication endpoint's note, with its delivery and time
    for_prescriber: bool
    added_at: datetime
    record_id: UUID | None = None  # the record it came from (two after a merge)


class PrescribingDecisionView(DecisionView):
    decided_at: datetime
    record_id: UUID | None = None  # the record it came from (two after a merge)


class CrisisContactView(BaseModel):
    contact_id: str
    record_id: UUID | None = None  # the record it came from (two after a merge)
    kind: str
    occurred_at: datetime
    outcome: str
    follow_up_due: datetime
    follow_up_status: str  # followed_up, due, overdue (at the time of the request)
    followed_up_on: date | None
    follow_up_note: str | None


class SafetyPlanView(BaseModel):
    record_id: UUID | None = None  # the record it came from (two after a merge)
    version: int  # 0: started, nothing written yet
    written_at: datetime | None
    needs_review: bool  # a crisis contact after this version was written
    needs_review_since_contact: str | None


class TeamMemberView(BaseModel):
    member_id: str
    role: str


class ReviewView(BaseModel):
    review_id: str
    reviewed_on: date
    what_changed: str
    why: str
    prompted_by: list[str]


class AgreementView(BaseModel):
    agrees: bool
    given_by: str
    reason: str | None
    given_at: datetime
    current: bool  # given to the plan as it is now


class PlanView(BaseModel):
    started_on: date
    last_reviewed_on: date
    last_review: ReviewView | None
    agreement: AgreementView | None


class NextReviewView(BaseModel):
    due_on: date
    prompted_by: list[str]  # "scheduled", or "<reason>:<reference>" for each open prompt


class PictureView(BaseModel):
    """What every member of the person's care team sees alike."""

    person_id: UUID
    preferred_name: str | None
    pronouns: str | None
    preferred_language: str | None
    screenings: list[ScreeningView]  # the latest result in each domain
    positive_domains: list[str]
    co_occurring_needs: bool  # two or more domains whose latest result is positive
    goals: list[GoalView]  # active goals
    # After a merge: the duplicate's goals, in the person's own words (the survivor's plan is current)
    carried_over_goals: list[CarriedOverGoalView] = []
    supports: list[SupportView]  # current supports
    strengths: list[str]
    preferences: PreferencesView | None
    recent_setbacks: list[SetbackView]
    medication_notes: list[MedicationNoteView]  # the most recent, oldest first
    prescribing_decisions: list[PrescribingDecisionView]
    crisis_contacts: list[CrisisContactView]
    safety_plan: SafetyPlanView | None
    team: list[TeamMemberView]
    plan: PlanView | None
    next_review: NextReviewView | None
    updated_at: datetime | None
    withheld: list[WithheldView] = Field(default_factory=list, description=(
        "Part 2 substance-use records withheld from this reader, a member from another program, until the "
        "person's consent names their program or the care team (empty otherwise). Crisis contacts and "
        "suicide-risk results are never withheld."))


router = APIRouter(prefix="/people", tags=["integrated picture"])


async def presented(pictures: PictureStore, authorized: TeamAccess, principal: Principal, person_id: UUID,
                    read: ReadRecording, what: str) -> dict:
    async with read.of(person_id, what):
        records = await authorized.records(principal, Right.READ_CARE_PLAN, person_id)
        picture = await pictures.get(person_id)
        if picture is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
        duplicates = [found for record in records[1:] if (found := await pictures.get(record)) is not None]
        return present(combine(picture, duplicates), datetime.now(timezone.utc),
                       await authorized.may_see_part2(principal, person_id))


@router.get("/{person_id}/picture", response_model=PictureView,
            summary="The person's integrated picture, as every member of their care team sees it")
async def get_picture(person_id: UUID, principal: CurrentPrincipal, pictures: Pictures, authorized: Access,
                      read: RecordedRead):
    return await presented(pictures, authorized, principal, person_id, read, "integrated picture")


@router.get(
    "/{person_id}/picture/fhir", response_class=Response,
    summary="The integrated picture as a FHIR R4 Bundle (CarePlan, CareTeam, Goal, Observation)",
    responses={200: {"content": {FHIR_JSON: {"schema": {
        "type": "object", "description": "A FHIR R4 Bundle of type collection"}}}}},
)
async def get_picture_fhir(person_id: UUID, principal: CurrentPrincipal, pictures: Pictures,
                           authorized: Access, read: RecordedRead) -> Response:
    view = await presented(pictures, authorized, principal, person_id, read, "integrated picture (FHIR)")
    return Response(picture_bundle(view).model_dump_json(), media_type=FHIR_JSON)
