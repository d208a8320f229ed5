"""A person-centered care plan: one aggregate per person, the person's own words first.

Goals are kept as the person said them, with the team's restatement beside them, never instead of
them. Setbacks are recorded as part of the path: they do not close goals or reset progress, and
the history keeps them next to the gains. Reviews say what changed and why; agreement (or
disagreement, with the person's reason) is the person's, about the plan as it stood when they gave it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import event

from services.careplan.domain.plan_parts import (
    AGREEMENT_GIVERS,
    GOAL_STATUSES,
    LIFE_DOMAINS,
    Agreement,
    CrisisFollowUp,
    Goal,
    IndicatorValue,
    InvalidPlanChange,
    Preferences,
    Review,
    Setback,
    Support,
    NotThePersonsChoice,
    check_agreement,
    check_indicator_value,
    check_new_goal,
    check_new_support,
    check_persons_choice,
    check_plan_day,
    check_review,
    check_sharing_category,
    check_text,
)
from services.careplan.domain.reviews import NextReview, ReviewPrompt, next_review
from shared.domain import Provenance
from shared.person_aggregate import PersonAggregate, command

# Importers of the plan find its parts here too.
__all__ = ["CarePlan", "GOAL_STATUSES", "LIFE_DOMAINS", "AGREEMENT_GIVERS", "InvalidPlanChange", "Goal", "Support",
           "Setback", "Review", "Agreement", "Preferences", "CrisisFollowUp", "IndicatorValue", "NotThePersonsChoice"]

CARE_PLAN_NAMESPACE = UUID("c6b9d1e4-5a3f-4c2b-8e7d-9f0a1b2c3d4e")


class CarePlan(PersonAggregate):
    if TYPE_CHECKING:  # The classes @event("...") defines as the class body runs, for mypy (fields unseen)
        Started: ClassVar[type[Any]]
        GoalSet: ClassVar[type[Any]]
        IndicatorValueRecorded: ClassVar[type[Any]]
        GoalStatusChanged: ClassVar[type[Any]]
        PersonDescribed: ClassVar[type[Any]]
        SupportAdded: ClassVar[type[Any]]
        SupportEnded: ClassVar[type[Any]]
        GoalSharingMarked: ClassVar[type[Any]]
        SupportSharingMarked: ClassVar[type[Any]]
        SetbackRecorded: ClassVar[type[Any]]
        Reviewed: ClassVar[type[Any]]
        AgreementRecorded: ClassVar[type[Any]]
        CrisisFollowedUp: ClassVar[type[Any]]

    @staticmethod
    def create_id(person_id: UUID, **_: object) -> UUID:
        return uuid5(CARE_PLAN_NAMESPACE, str(person_id))

    @classmethod
    def start(cls, person_id: UUID, started_on: date, provenance: Provenance) -> CarePlan:
        """A new plan, refused before it exists if its first review could not be scheduled."""
        check_plan_day("started_on", started_on)
        return cls(person_id, started_on, provenance)

    @event("Started")
    def __init__(self, person_id: UUID, started_on: date, provenance: Provenance) -> None:
        self.person_id = person_id
        self.started_on = started_on
        self.goals: dict[str, Goal] = {}
        self.strengths: tuple[str, ...] = ()
        self.preferences = Preferences()
        self.supports: dict[str, Support] = {}
        self.setbacks: list[Setback] = []
        self.reviews: list[Review] = []
        self.agreement: Agreement | None = None
        self.crisis_follow_ups: dict[str, CrisisFollowUp] = {}

    # -- goals ---------------------------------------------------------------------------------------

    @command
    def set_goal(self, goal_id: str, in_own_words: str, team_restatement: str | None, life_domain: str | None,
                 indicators: list[str], provenance: Provenance, sharing_category: str | None = None) -> bool:
        """Add a goal in the person's words. False if this goal id is already on the plan."""
        check_text("goal_id", goal_id)
        if goal_id in self.goals:
            return False
        check_new_goal(in_own_words, life_domain, indicators, sharing_category)
        self._goal_set(goal_id, in_own_words, team_restatement, life_domain, list(indicators), sharing_category)
        return True

    @event("GoalSet")
    def _goal_set(self, goal_id: str, in_own_words: str, team_restatement: str | None, life_domain: str | None,
                  indicators: list[str], sharing_category: str | None = None) -> None:
        # The default: goals stored before sharing categories existed were never marked.
        self.goals[goal_id] = Goal(goal_id, in_own_words, team_restatement, life_domain, tuple(indicators),
                                   sharing_category=sharing_category)

    @command
    def record_indicator_value(self, goal_id: str, indicator: str, value: float, recorded_on: date,
                               note: str | None, provenance: Provenance) -> None:
        value = check_indicator_value(self._goal(goal_id), indicator, value, recorded_on)
        self._indicator_value_recorded(goal_id, indicator, value, recorded_on, note)

    @event("IndicatorValueRecorded")
    def _indicator_value_recorded(self, goal_id: str, indicator: str, value: float, recorded_on: date,
                                  note: str | None) -> None:
        goal = self.goals[goal_id]
        self.goals[goal_id] = replace(goal, values=(*goal.values, IndicatorValue(indicator, value, recorded_on, note)))

    @command
    def change_goal_status(self, goal_id: str, status: str, why: str | None, provenance: Provenance) -> bool:
        """A goal reached, set aside by the person's choice, or taken up again. False if unchanged."""
        goal = self._goal(goal_id)
        if status not in GOAL_STATUSES:
            raise InvalidPlanChange("status", f"unknown goal status {status!r}; known: {', '.join(GOAL_STATUSES)}")
        if goal.status == status:
            return False
        self._goal_status_changed(goal_id, status, why)
        return True

    @event("GoalStatusChanged")
    def _goal_status_changed(self, goal_id: str, status: str, why: str | None) -> None:
        self.goals[goal_id] = replace(self.goals[goal_id], status=status)

    @property
    def active_goals(self) -> list[Goal]:
        return [goal for goal in self.goals.values() if goal.status == "active"]

    # -- the person: strengths and preferences ---------------------------------------------------------

    @command
    def describe_person(self, strengths: list[str], preferences: Preferences, provenance: Provenance) -> bool:
        """Replace the person's strengths and preferences as they describe them. False if unchanged."""
        if tuple(strengths) == self.strengths and preferences == self.preferences:
            return False
        self._person_described(list(strengths), preferences.language, preferences.culture, preferences.faith,
                               list(preferences.who_to_involve))
        return True

    @event("PersonDescribed")
    def _person_described(self, strengths: list[str], language: str | None, culture: str | None, faith: str | None,
                          who_to_involve: list[str]) -> None:
        self.strengths = tuple(strengths)
        self.preferences = Preferences(language, culture, faith, tuple(who_to_involve))

    # -- supports and services across life domains ----------------------------------------------------

    @command
    def add_support(self, support_id: str, life_domain: str, description: str, provided_by: str,
                    provenance: Provenance, sharing_category: str | None = None) -> bool:
        check_text("support_id", support_id)
        if support_id in self.supports:
            return False
        check_new_support(life_domain, description, provided_by, sharing_category)
        self._support_added(support_id, life_domain, description, provided_by, sharing_category)
        return True

    @event("SupportAdded")
    def _support_added(self, support_id: str, life_domain: str, description: str, provided_by: str,
                       sharing_category: str | None = None) -> None:
        self.supports[support_id] = Support(support_id, life_domain, description, provided_by,
                                            sharing_category=sharing_category)

    @command
    def end_support(self, support_id: str, because: str, provenance: Provenance) -> bool:
        support = self.supports.get(support_id)
        if support is None:
            raise InvalidPlanChange("support_id", f"no support {support_id} on this plan")
        if not support.active:
            return False
        check_text("because", because)
        self._support_ended(support_id, because)
        return True

    @event("SupportEnded")
    def _support_ended(self, support_id: str, because: str) -> None:
        self.supports[support_id] = replace(self.supports[support_id], ended_because=because)

    @property
    def active_supports(self) -> list[Support]:
        return [support for support in self.supports.values() if support.active]

    # -- what may be shared outside the team (sharing.py) ----------------------------------------------

    @command
    def mark_goal_sharing(self, goal_id: str, sharing_category: str | None, provenance: Provenance) -> bool:
        """The consent category a goal may be shared in (None: within the team only). False if unchanged."""
        check_persons_choice(provenance)
        goal = self._goal(goal_id)
        check_sharing_category(sharing_category)
        if goal.sharing_category == sharing_category:
            return False
        self._goal_sharing_marked(goal_id, sharing_category)
        return True

    @event("GoalSharingMarked")
    def _goal_sharing_marked(self, goal_id: str, sharing_category: str | None) -> None:
        self.goals[goal_id] = replace(self.goals[goal_id], sharing_category=sharing_category)

    @command
    def mark_support_sharing(self, support_id: str, sharing_category: str | None, provenance: Provenance) -> bool:
        """The consent category a support may be shared in (None: within the team only). False if unchanged."""
        check_persons_choice(provenance)
        support = self.supports.get(support_id)
        if support is None:
            raise InvalidPlanChange("support_id", f"no support {support_id} on this plan")
        check_sharing_category(sharing_category)
        if support.sharing_category == sharing_category:
            return False
        self._support_sharing_marked(support_id, sharing_category)
        return True

    @event("SupportSharingMarked")
    def _support_sharing_marked(self, support_id: str, sharing_category: str | None) -> None:
        self.supports[support_id] = replace(self.supports[support_id], sharing_category=sharing_category)

    # -- setbacks, reviews, agreement ------------------------------------------------------------------

    @command
    def record_setback(self, setback_id: str, occurred_on: date, in_own_words: str, what_helped: str | None,
                       goal_ids: list[str], provenance: Provenance) -> bool:
        """A setback is part of the path: it is recorded beside the goals, which stay as they are."""
        check_text("setback_id", setback_id)
        if any(s.setback_id == setback_id for s in self.setbacks):
            return False
        check_plan_day("occurred_on", occurred_on)
        check_text("in_own_words", in_own_words)
        for goal_id in goal_ids:
            self._goal(goal_id, field="goal_ids")
        self._setback_recorded(setback_id, occurred_on, in_own_words, what_helped, list(goal_ids))
        return True

    @event("SetbackRecorded")
    def _setback_recorded(self, setback_id: str, occurred_on: date, in_own_words: str, what_helped: str | None,
                          goal_ids: list[str]) -> None:
        self.setbacks.append(Setback(setback_id, occurred_on, in_own_words, what_helped, tuple(goal_ids)))

    @command
    def record_review(self, review_id: str, reviewed_on: date, what_changed: str, why: str,
                      prompted_by: list[str], provenance: Provenance) -> bool:
        check_text("review_id", review_id)
        if any(r.review_id == review_id for r in self.reviews):
            return False
        check_review(reviewed_on, what_changed, why, self.reviews[-1].reviewed_on if self.reviews else None)
        self._reviewed(review_id, reviewed_on, what_changed, why, list(prompted_by))
        return True

    @event("Reviewed")
    def _reviewed(self, review_id: str, reviewed_on: date, what_changed: str, why: str,
                  prompted_by: list[str]) -> None:
        self.reviews.append(Review(review_id, reviewed_on, what_changed, why, tuple(prompted_by)))

    @property
    def answered_prompts(self) -> set[str]:
        """What reviews so far have answered (see reviews.py)."""
        return {prompt for review in self.reviews for prompt in review.prompted_by}

    @property
    def last_reviewed_on(self) -> date:
        return self.reviews[-1].reviewed_on if self.reviews else self.started_on

    def next_review(self, prompts: Iterable[ReviewPrompt]) -> NextReview:
        """When the plan is next due for review, given what the timeline reported (reviews.py)."""
        return next_review(self.started_on, self.last_reviewed_on, prompts, self.answered_prompts)

    @command
    def record_agreement(self, agrees: bool, given_by: str, reason: str | None, provenance: Provenance) -> None:
        """The person's (or guardian's) agreement to the plan as it stands, or disagreement and why."""
        check_agreement(agrees, given_by, reason)
        self._agreement_recorded(agrees, given_by, reason, self.version)

    @event("AgreementRecorded")
    def _agreement_recorded(self, agrees: bool, given_by: str, reason: str | None, plan_version: int) -> None:
        self.agreement = Agreement(agrees, given_by, reason, plan_version)

    @property
    def agreement_is_current(self) -> bool:
        """Whether the agreement was given to the plan as it is now (nothing changed since)."""
        return self.agreement is not None and self.agreement.plan_version == self.version - 1

    # -- crisis follow-up ------------------------------------------------------------------------------

    @command
    def record_crisis_follow_up(self, contact_id: str, followed_up_on: date, note: str | None,
                                provenance: Provenance) -> bool:
        check_text("contact_id", contact_id)
        if contact_id in self.crisis_follow_ups:
            return False
        check_plan_day("followed_up_on", followed_up_on)
        self._crisis_followed_up(contact_id, followed_up_on, note)
        return True

    @event("CrisisFollowedUp")
    def _crisis_followed_up(self, contact_id: str, followed_up_on: date, note: str | None) -> None:
        self.crisis_follow_ups[contact_id] = CrisisFollowUp(contact_id, followed_up_on, note)

    def _goal(self, goal_id: str, field: str = "goal_id") -> Goal:
        try:
            return self.goals[goal_id]
        except KeyError:
            raise InvalidPlanChange(field, f"no goal {goal_id} on this plan") from None
