"""What careplan answers about a plan: the whole plan as it now is, after every change."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from services.careplan.domain.merged_history import MergedPlan
from services.careplan.domain.plan import CarePlan
from shared.part2 import about_substance_use


class IndicatorValueView(BaseModel):
    indicator: str
    value: float
    recorded_on: date
    note: str | None


class GoalView(BaseModel):
    goal_id: str
    in_own_words: str
    team_restatement: str | None
    life_domain: str | None
    indicators: list[str]
    status: str
    values: list[IndicatorValueView]
    sharing_category: str | None


class SupportView(BaseModel):
    support_id: str
    life_domain: str
    description: str
    provided_by: str
    active: bool
    ended_because: str | None
    sharing_category: str | None


class SetbackView(BaseModel):
    setback_id: str
    occurred_on: date
    in_own_words: str
    what_helped: str | None
    goal_ids: list[str]


class ReviewView(BaseModel):
    review_id: str
    reviewed_on: date
    what_changed: str
    why: str
    prompted_by: list[str]


class NextReviewView(BaseModel):
    due_on: date
    prompted_by: list[str] = Field(description='"scheduled", or "positive_screening:<id>" / "crisis_contact:<id>"')


class AgreementView(BaseModel):
    agrees: bool
    given_by: str
    reason: str | None
    current: bool = Field(description="False once the plan has changed since the agreement was given")


class CrisisFollowUpView(BaseModel):
    contact_id: str
    followed_up_on: date
    note: str | None


class CarriedOverGoalView(BaseModel):
    goal_id: str
    record_id: UUID
    in_own_words: str
    status: str


class CarePlanView(BaseModel):
    person_id: UUID
    record_id: UUID | None = Field(None, description=(
        "The record whose plan this is: the person's own, unless intake merged records into theirs "
        "and only a merged record has a plan yet"))
    started_on: date
    version: int
    goals: list[GoalView]
    strengths: list[str]
    preferences: dict[str, Any]
    supports: list[SupportView]
    setbacks: list[SetbackView]
    reviews: list[ReviewView]
    next_review: NextReviewView
    agreement: AgreementView | None
    crisis_follow_ups: list[CrisisFollowUpView]
    carried_over_goals: list[CarriedOverGoalView] = Field(default_factory=list, description=(
        "After intake merged records into this person's, the goals of the merged records' plans, in the "
        "person's own words, each with its record (this plan stays current)"))
    withheld: int = Field(0, description=(
        "How many goals and supports about substance use (42 CFR Part 2) are withheld from this reader, a "
        "member from a program other than the substance-use program, until a consent directive names their "
        "program or the care team"))


def plan_view(plan: CarePlan, due: Any, merged: MergedPlan | None = None, person_id: UUID | None = None,
              part2_shown: bool = True) -> CarePlanView:
    """`merged`: the plan as shown with the records merged into the person's (`person_id`).
    Without `part2_shown`, goals and supports about substance use are left out and counted."""
    agreement = plan.agreement
    carried_all = merged.carried_over_goals if merged is not None else []
    goals_all, supports_all = list(plan.goals.values()), list(plan.supports.values())
    carried = [g for g in carried_all if part2_shown or not about_substance_use(category=g.entry.sharing_category)]
    goals = [g for g in goals_all if part2_shown or not about_substance_use(category=g.sharing_category)]
    supports = [s for s in supports_all if part2_shown or not about_substance_use(category=s.sharing_category)]
    withheld = len(carried_all) + len(goals_all) + len(supports_all) - len(carried) - len(goals) - len(supports)
    return CarePlanView(
        person_id=person_id or plan.person_id, record_id=plan.person_id,
        carried_over_goals=[CarriedOverGoalView(goal_id=g.entry.goal_id, record_id=g.record_id,
                                                in_own_words=g.entry.in_own_words, status=g.entry.status)
                            for g in carried],
        started_on=plan.started_on, version=plan.version, withheld=withheld,
        goals=[GoalView(goal_id=g.goal_id, in_own_words=g.in_own_words, team_restatement=g.team_restatement,
                        life_domain=g.life_domain, indicators=list(g.indicators), status=g.status,
                        values=[IndicatorValueView(indicator=v.indicator, value=v.value, recorded_on=v.recorded_on,
                                                   note=v.note) for v in g.values],
                        sharing_category=g.sharing_category)
               for g in goals],
        strengths=list(plan.strengths),
        preferences={"language": plan.preferences.language, "culture": plan.preferences.culture,
                     "faith": plan.preferences.faith, "who_to_involve": list(plan.preferences.who_to_involve)},
        supports=[SupportView(support_id=s.support_id, life_domain=s.life_domain, description=s.description,
                              provided_by=s.provided_by, active=s.active, ended_because=s.ended_because,
                              sharing_category=s.sharing_category)
                  for s in supports],
        setbacks=[SetbackView(setback_id=s.setback_id, occurred_on=s.occurred_on, in_own_words=s.in_own_words,
                              what_helped=s.what_helped, goal_ids=list(s.goal_ids)) for s in plan.setbacks],
        reviews=[ReviewView(review_id=r.review_id, reviewed_on=r.reviewed_on, what_changed=r.what_changed,
                            why=r.why, prompted_by=list(r.prompted_by)) for r in plan.reviews],
        next_review=NextReviewView(due_on=due.due_on, prompted_by=list(due.prompted_by)),
        agreement=None if agreement is None else AgreementView(
            agrees=agreement.agrees, given_by=agreement.given_by, reason=agreement.reason,
            current=plan.agreement_is_current),
        crisis_follow_ups=[CrisisFollowUpView(contact_id=f.contact_id, followed_up_on=f.followed_up_on, note=f.note)
                           for f in plan.crisis_follow_ups.values()],
    )
