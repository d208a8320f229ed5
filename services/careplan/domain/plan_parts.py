"""What a care plan holds, as plain values, and the checks a change to it must pass.

The checks keep out of the plan what it could not read back: a day too close to the end of the
calendar for the review that follows it, a number that is not finite, an empty id or indicator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, get_args

from services.careplan.domain.reviews import leaves_room_for_review
from shared.consent import CATEGORIES
from shared.domain import InvalidField, Provenance

LifeDomain = Literal[
    "housing", "employment", "education", "clinical_care", "peer_support", "family", "physical_health",
    "transportation", "harm_reduction",
]
LIFE_DOMAINS: tuple[str, ...] = get_args(LifeDomain)
# A goal is never "failed": it is worked on, reached, or set aside by the person's choice.
GoalStatus = Literal["active", "achieved", "set_aside"]
GOAL_STATUSES: tuple[str, ...] = get_args(GoalStatus)
AGREEMENT_GIVERS = ("person", "guardian")


class InvalidPlanChange(InvalidField):
    """A plan change that cannot be recorded; `field` names what to correct."""


@dataclass(frozen=True)
class IndicatorValue:
    indicator: str
    value: float
    recorded_on: date
    note: str | None = None


@dataclass(frozen=True)
class Goal:
    goal_id: str
    in_own_words: str
    team_restatement: str | None
    life_domain: str | None
    indicators: tuple[str, ...]  # what the person and team will watch to see progress
    status: str = "active"
    values: tuple[IndicatorValue, ...] = ()
    sharing_category: str | None = None  # see sharing.py: None stays within the team


@dataclass(frozen=True)
class Support:
    support_id: str
    life_domain: str
    description: str
    provided_by: str
    ended_because: str | None = None
    sharing_category: str | None = None  # see sharing.py: None stays within the team

    @property
    def active(self) -> bool:
        return self.ended_because is None


@dataclass(frozen=True)
class Setback:
    setback_id: str
    occurred_on: date
    in_own_words: str
    what_helped: str | None
    goal_ids: tuple[str, ...]


@dataclass(frozen=True)
class Review:
    review_id: str
    reviewed_on: date
    what_changed: str
    why: str
    prompted_by: tuple[str, ...]  # "scheduled", or what intake reported (see reviews.py)


@dataclass(frozen=True)
class Agreement:
    agrees: bool
    given_by: str
    reason: str | None
    plan_version: int  # the plan's version the person agreed (or not) to


@dataclass(frozen=True)
class Preferences:
    language: str | None = None
    culture: str | None = None
    faith: str | None = None
    who_to_involve: tuple[str, ...] = ()


@dataclass
class CrisisFollowUp:
    contact_id: str
    followed_up_on: date
    note: str | None


def check_life_domain(life_domain: str) -> None:
    if life_domain not in LIFE_DOMAINS:
        raise InvalidPlanChange("life_domain", f"unknown life domain {life_domain!r}; known: {', '.join(LIFE_DOMAINS)}")


class NotThePersonsChoice(PermissionError):
    """Once written, what of the plan leaves the team is the person's own decision."""


def check_persons_choice(provenance: Provenance) -> None:
    if provenance.actor_role != "person":
        raise NotThePersonsChoice("only the person decides, once it is written, what of their plan is shared")


def check_sharing_category(category: str | None) -> None:
    if category is not None and category not in CATEGORIES:
        raise InvalidPlanChange("sharing_category",
                                f"unknown consent category {category!r}; known: {', '.join(CATEGORIES)}")


def check_text(field: str, text: str | None, message: str = "must not be empty") -> None:
    if text is None or not text.strip():
        raise InvalidPlanChange(field, message)


def check_plan_day(field: str, day: date) -> None:
    """A plan's days are calendar days that leave room for what the plan derives from them (the
    next review, 90 days on): a stored day past that would make the plan unreadable for good."""
    if isinstance(day, datetime) or not isinstance(day, date):
        raise InvalidPlanChange(field, "must be a calendar date")
    if not leaves_room_for_review(day):
        raise InvalidPlanChange(field, f"{day.isoformat()} is too late: a review after it would fall past the "
                                       "end of the calendar")


def check_finite(field: str, value: float) -> float:
    """The value as a finite float: NaN and infinities would be stored but read back as null."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidPlanChange(field, "must be a finite number") from None
    if not math.isfinite(number):
        raise InvalidPlanChange(field, "must be a finite number")
    return number


def check_new_goal(in_own_words: str, life_domain: str | None, indicators: list[str],
                   sharing_category: str | None) -> None:
    """A goal in the person's words, in a known life domain if one is given, each indicator named once."""
    check_text("in_own_words", in_own_words)
    check_sharing_category(sharing_category)
    if life_domain is not None:
        check_life_domain(life_domain)
    for indicator in indicators:
        check_text("indicators", indicator, "each indicator needs a name")
    if len(set(indicators)) != len(indicators):
        raise InvalidPlanChange("indicators", "each indicator must be named once")


def check_new_support(life_domain: str, description: str, provided_by: str, sharing_category: str | None) -> None:
    check_life_domain(life_domain)
    check_text("description", description)
    check_text("provided_by", provided_by)
    check_sharing_category(sharing_category)


def check_review(reviewed_on: date, what_changed: str, why: str, last_reviewed_on: date | None) -> None:
    """A review says what changed and why, and comes no earlier than the last one."""
    # Before the comparison below, which a time given for a day would break.
    check_plan_day("reviewed_on", reviewed_on)
    check_text("what_changed", what_changed)
    check_text("why", why)
    if last_reviewed_on is not None and reviewed_on < last_reviewed_on:
        raise InvalidPlanChange("reviewed_on", f"before the last review ({last_reviewed_on})")


def check_indicator_value(goal: Goal, indicator: str, value: float, recorded_on: date) -> float:
    """A value of one of the goal's indicators, on a day the plan can hold; returns it as stored."""
    if indicator not in goal.indicators:
        raise InvalidPlanChange("indicator", f"goal {goal.goal_id} has no indicator {indicator!r}; "
                                             f"it has: {', '.join(goal.indicators) or 'none'}")
    check_plan_day("recorded_on", recorded_on)
    return check_finite("value", value)


def check_agreement(agrees: bool, given_by: str, reason: str | None) -> None:
    if given_by not in AGREEMENT_GIVERS:
        raise InvalidPlanChange("given_by", f"agreement is given by {' or '.join(AGREEMENT_GIVERS)}")
    if not agrees:
        check_text("reason", reason, "a disagreement keeps the person's reason")
