"""The care plan's use cases, one named method each: load the plan (started if there is none), act,
save. HTTP (services/careplan/api/plan.py) makes exactly one of these calls per request.

A mixin of CareplanApplication, kept apart so that the application module stays readable: it
relies on the application's `change_plan`. Each returns False when the change was already made
(a retry with the same id records nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from services.careplan.domain.plan import CarePlan, Preferences
from shared.domain import Provenance

T = TypeVar("T")


class CarePlanUseCases:
    change_plan: Callable[..., Any]  # CareplanApplication.change_plan

    def set_goal(self, person_id: UUID, goal_id: str, in_own_words: str, team_restatement: str | None,
                 life_domain: str | None, indicators: list[str], sharing_category: str | None,
                 provenance: Provenance) -> bool:
        return self._on_plan(person_id, provenance, lambda plan: plan.set_goal(
            goal_id, in_own_words, team_restatement, life_domain, indicators, provenance, sharing_category))

    def record_indicator_value(self, person_id: UUID, goal_id: str, indicator: str, value: float,
                               recorded_on: date, note: str | None, provenance: Provenance) -> bool:
        def record(plan: CarePlan) -> bool:
            plan.record_indicator_value(goal_id, indicator, value, recorded_on, note, provenance)
            return True  # every value recorded is a new one

        return self._on_plan(person_id, provenance, record)

    def change_goal_status(self, person_id: UUID, goal_id: str, status: str, why: str | None,
                           provenance: Provenance) -> bool:
        return self._on_plan(person_id, provenance, lambda plan: plan.change_goal_status(goal_id, status, why, provenance))

    def describe_person(self, person_id: UUID, strengths: list[str], preferences: Preferences,
                        provenance: Provenance) -> bool:
        return self._on_plan(person_id, provenance, lambda plan: plan.describe_person(strengths, preferences, provenance))

    def add_support(self, person_id: UUID, support_id: str, life_domain: str, description: str, provided_by: str,
                    sharing_category: str | None, provenance: Provenance) -> bool:
        return self._on_plan(person_id, provenance, lambda plan: plan.add_support(
            support_id, life_domain, description, provided_by, provenance, sharing_category))

    def end_support(self, person_id: UUID, support_id: str, because: str, provenance: Provenance) -> bool:
        return self._on_plan(person_id, provenance, lambda plan: plan.end_support(support_id, because, provenance))

    def record_setback(self, person_id: UUID, setback_id: str, occurred_on: date, in_own_words: str,
                       what_helped: str | None, goal_ids: list[str], provenance: Provenance) -> bool:
        return self._on_plan(person_id, provenance, lambda plan: plan.record_setback(
            setback_id, occurred_on, in_own_words, what_helped, goal_ids, provenance))

    def record_agreement(self, person_id: UUID, agrees: bool, given_by: str, reason: str | None,
                         provenance: Provenance) -> bool:
        """Always a new fact: agreement is to the plan as it stands now."""
        def agree(plan: CarePlan) -> bool:
            plan.record_agreement(agrees, given_by, reason, provenance)
            return True

        return self._on_plan(person_id, provenance, agree)

    def mark_goal_sharing(self, person_id: UUID, goal_id: str, sharing_category: str | None,
                          provenance: Provenance) -> bool:
        return self._on_plan(person_id, provenance, lambda plan: plan.mark_goal_sharing(
            goal_id, sharing_category, provenance))

    def mark_support_sharing(self, person_id: UUID, support_id: str, sharing_category: str | None,
                             provenance: Provenance) -> bool:
        return self._on_plan(person_id, provenance, lambda plan: plan.mark_support_sharing(
            support_id, sharing_category, provenance))

    def _on_plan(self, person_id: UUID, provenance: Provenance, act: Callable[[CarePlan], T]) -> T:
        return self.change_plan(person_id, act, provenance)
