"""The person-centered care plan over HTTP. Every change answers with the whole plan as it now is."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from services.careplan.api.plan_views import CarePlanView
from services.careplan.deps import Access, Application, Plans
from services.careplan.domain.plan import Preferences
from services.careplan.domain.plan_parts import GoalStatus, LifeDomain
from shared.access import Right
from shared.consent import Category as SharingCategory
from shared.contracts.fields import IDENTIFIER_PATTERN, BoundedDate, FiniteFloat, Identifier, identifier
from shared.http import CurrentPrincipal, RequestProvenance
from shared.recorded_reads import RecordedRead

Text = Field(min_length=1, max_length=4000)
SHARING_CATEGORY = ("The consent category in which the person's consent directives may share it outside the "
                    "team; none: it stays within the team (its words are never sorted by guessing)")
Indicator = Annotated[str, identifier(200, "What the person and team watch: a name, without control characters")]

# An id in the URL is held to what a body's id may be, so it cannot carry control characters into logs.
IdInPath = Annotated[str, Path(min_length=1, max_length=100, pattern=IDENTIFIER_PATTERN)]


def new_id() -> str:
    return str(uuid4())



class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SetGoal(Request):
    goal_id: Identifier = Field(default_factory=new_id,
                                description="Give one to make retries safe: the same id is recorded once")
    in_own_words: str = Field(min_length=1, max_length=4000, description="The goal as the person says it")
    team_restatement: str | None = Field(None, max_length=4000, description="The team's wording, kept beside it")
    life_domain: LifeDomain | None = None
    indicators: list[Indicator] = Field(default_factory=list, max_length=20,
                                        description="What the person and team will watch to see progress")
    sharing_category: SharingCategory | None = Field(None, description=SHARING_CATEGORY)


class RecordIndicatorValue(Request):
    indicator: Indicator
    value: FiniteFloat
    recorded_on: BoundedDate = Field(default_factory=date.today)
    note: str | None = Field(None, max_length=4000)


class ChangeGoalStatus(Request):
    status: GoalStatus
    why: str | None = Field(None, max_length=4000)


class DescribePerson(Request):
    strengths: list[str] = Field(default_factory=list, max_length=50)
    language: str | None = Field(None, max_length=100)
    culture: str | None = Field(None, max_length=400)
    faith: str | None = Field(None, max_length=400)
    who_to_involve: list[str] = Field(default_factory=list, max_length=50)


class AddSupport(Request):
    support_id: Identifier = Field(default_factory=new_id)
    life_domain: LifeDomain
    description: str = Text
    provided_by: str = Field(min_length=1, max_length=400, description="Who provides it: a service, a person")
    sharing_category: SharingCategory | None = Field(None, description=SHARING_CATEGORY)


class EndSupport(Request):
    because: str = Text


class RecordSetback(Request):
    setback_id: Identifier = Field(default_factory=new_id)
    occurred_on: BoundedDate
    in_own_words: str = Field(min_length=1, max_length=4000, description="What happened, as the person tells it")
    what_helped: str | None = Field(None, max_length=4000)
    goal_ids: list[Identifier] = Field(default_factory=list, max_length=50)


class RecordReview(Request):
    review_id: Identifier = Field(default_factory=new_id)
    reviewed_on: BoundedDate = Field(default_factory=date.today)
    what_changed: str = Text
    why: str = Text


class RecordAgreement(Request):
    agrees: bool
    given_by: Literal["person", "guardian"] = "person"
    reason: str | None = Field(None, max_length=4000, description="Required when the person disagrees")


class RecordCrisisFollowUp(Request):
    contact_id: Identifier = Field(description="The crisis contact intake recorded")
    followed_up_on: BoundedDate = Field(default_factory=date.today)
    note: str | None = Field(None, max_length=4000)


router = APIRouter(prefix="/people/{person_id}/plan", tags=["care plan"])


@router.get("", response_model=CarePlanView, summary="The person's care plan")
async def get_plan(person_id: UUID, principal: CurrentPrincipal, authorized: Access, plans: Plans,
                   read: RecordedRead):
    async with read.of(person_id, "care plan"):
        records = await authorized.records(principal, Right.READ_CARE_PLAN, person_id)
        return await plans.view(person_id, principal, records)


@router.post("/goals", status_code=201, response_model=CarePlanView,
             summary="Add a goal in the person's own words (200 if this goal id is already on the plan)")
async def set_goal(person_id: UUID, body: SetGoal, provenance: RequestProvenance, response: Response,
                   principal: CurrentPrincipal, application: Application, plans: Plans):
    return await plans.change(principal, Right.WRITE_CARE_PLAN, person_id, response, application.set_goal,
                              body.goal_id, body.in_own_words, body.team_restatement, body.life_domain,
                              body.indicators, body.sharing_category, provenance)


@router.post("/goals/{goal_id}/indicator-values", status_code=201, response_model=CarePlanView,
             summary="Record a measured value of one of the goal's indicators")
async def record_indicator_value(person_id: UUID, goal_id: IdInPath, body: RecordIndicatorValue,
                                 provenance: RequestProvenance, response: Response, principal: CurrentPrincipal,
                                 application: Application, plans: Plans):
    return await plans.change(principal, Right.WRITE_CARE_PLAN, person_id, response,
                              application.record_indicator_value, goal_id, body.indicator, body.value,
                              body.recorded_on, body.note, provenance)


@router.post("/goals/{goal_id}/status", status_code=200, response_model=CarePlanView,
             summary="A goal reached, set aside by the person's choice, or taken up again")
async def change_goal_status(person_id: UUID, goal_id: IdInPath, body: ChangeGoalStatus,
                             provenance: RequestProvenance, response: Response, principal: CurrentPrincipal,
                             application: Application, plans: Plans):
    return await plans.change(principal, Right.WRITE_CARE_PLAN, person_id, response, application.change_goal_status,
                              goal_id, body.status, body.why, provenance)


@router.put("/person", status_code=200, response_model=CarePlanView,
            summary="The person's strengths and preferences (language, culture, faith, who to involve)")
async def describe_person(person_id: UUID, body: DescribePerson, provenance: RequestProvenance,
                          response: Response, principal: CurrentPrincipal, application: Application, plans: Plans):
    preferences = Preferences(body.language, body.culture, body.faith, tuple(body.who_to_involve))
    return await plans.change(principal, Right.WRITE_CARE_PLAN, person_id, response, application.describe_person,
                              body.strengths, preferences, provenance)


@router.post("/supports", status_code=201, response_model=CarePlanView,
             summary="A support or service in one life domain, and who provides it")
async def add_support(person_id: UUID, body: AddSupport, provenance: RequestProvenance, response: Response,
                      principal: CurrentPrincipal, application: Application, plans: Plans):
    return await plans.change(principal, Right.WRITE_CARE_PLAN, person_id, response, application.add_support,
                              body.support_id, body.life_domain, body.description, body.provided_by,
                              body.sharing_category, provenance)


@router.post("/supports/{support_id}/end", status_code=200, response_model=CarePlanView,
             summary="A support ended, and why")
async def end_support(person_id: UUID, support_id: IdInPath, body: EndSupport, provenance: RequestProvenance,
                      response: Response, principal: CurrentPrincipal, application: Application, plans: Plans):
    return await plans.change(principal, Right.WRITE_CARE_PLAN, person_id, response, application.end_support,
                              support_id, body.because, provenance)


@router.post("/setbacks", status_code=201, response_model=CarePlanView,
             summary="A setback, as part of the path: goals and progress stay as they are")
async def record_setback(person_id: UUID, body: RecordSetback, provenance: RequestProvenance,
                         response: Response, principal: CurrentPrincipal, application: Application, plans: Plans):
    return await plans.change(principal, Right.WRITE_CARE_PLAN, person_id, response, application.record_setback,
                              body.setback_id, body.occurred_on, body.in_own_words, body.what_helped, body.goal_ids,
                              provenance)


@router.post("/reviews", status_code=201, response_model=CarePlanView,
             summary="A review: what changed and why (it answers what made the review due)")
async def record_review(person_id: UUID, body: RecordReview, provenance: RequestProvenance,
                        response: Response, principal: CurrentPrincipal, application: Application, plans: Plans):
    return await plans.change(principal, Right.REVIEW_CARE_PLAN, person_id, response, application.review_plan,
                              body.review_id, body.reviewed_on, body.what_changed, body.why, provenance)


@router.post("/agreement", status_code=201, response_model=CarePlanView,
             summary="The person's (or guardian's) agreement to the plan as it stands, or disagreement and why")
async def record_agreement(person_id: UUID, body: RecordAgreement, provenance: RequestProvenance,
                           response: Response, principal: CurrentPrincipal, application: Application, plans: Plans):
    return await plans.change(principal, Right.RECORD_AGREEMENT, person_id, response, application.record_agreement,
                              body.agrees, body.given_by, body.reason, provenance)


@router.post("/crisis-follow-ups", status_code=201, response_model=CarePlanView,
             summary="The team followed up a crisis contact (200 if already recorded)")
async def record_crisis_follow_up(person_id: UUID, body: RecordCrisisFollowUp, provenance: RequestProvenance,
                                  response: Response, principal: CurrentPrincipal, application: Application,
                                  plans: Plans):
    return await plans.change(principal, Right.FOLLOW_UP_CRISIS, person_id, response,
                              application.record_crisis_follow_up, body.contact_id, body.followed_up_on, body.note,
                              provenance)
