"""A plan changed by another replica while a command runs: the command is retried on what is
stored, and gives up (saving nothing) only after its budget, with an error that asks to retry."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from services.careplan import aggregate_writes
from services.careplan.aggregate_writes import TooManyConflicts
from services.careplan.application import CareplanApplication
from services.careplan.domain.plan import CarePlan
from tests.unit.conftest import IN_MEMORY


@pytest.fixture
def app(monkeypatch) -> CareplanApplication:
    monkeypatch.setattr(aggregate_writes, "MAX_BACKOFF", 0.001)  # the pauses, not their number, are slow
    return CareplanApplication(env=IN_MEMORY)


def elsewhere(app: CareplanApplication, person_id, goal_id: str, provenance) -> None:  # noqa: ANN001
    """What another replica does: read the stored plan, change it, save it."""
    plan = app.read(CarePlan.create_id(person_id))
    plan.set_goal(goal_id, "Written elsewhere", None, None, [], provenance)
    app.save(plan)


def test_a_command_that_lost_a_race_is_retried_on_what_is_stored(app, provenance):
    person_id = uuid4()
    app.change_plan(person_id, lambda plan: plan.set_goal("g0", "First", None, None, [], provenance), provenance)
    attempts = []

    def set_goal(plan: CarePlan) -> bool:
        attempts.append(plan.version)
        if len(attempts) == 1:
            elsewhere(app, person_id, "g-elsewhere", provenance)
        return plan.set_goal("g-here", "Written here", None, None, [], provenance)

    assert app.change_plan(person_id, set_goal, provenance, today=date(2026, 1, 5)) is True
    assert attempts == [2, 3]  # the second attempt saw the other replica's goal
    assert sorted(app.care_plan(person_id).goals) == ["g-elsewhere", "g-here", "g0"]


def test_a_command_that_loses_every_race_saves_nothing_and_asks_to_retry(app, provenance):
    person_id = uuid4()
    app.change_plan(person_id, lambda plan: plan.set_goal("g0", "First", None, None, [], provenance), provenance)
    attempts = []

    def set_goal(plan: CarePlan) -> bool:
        attempts.append(plan.version)
        elsewhere(app, person_id, f"g-elsewhere-{len(attempts)}", provenance)
        return plan.set_goal("g-here", "Written here", None, None, [], provenance)

    with pytest.raises(TooManyConflicts) as busy:
        app.change_plan(person_id, set_goal, provenance)
    assert busy.value.retry_after_seconds >= 1
    assert len(attempts) == aggregate_writes.CHANGE_ATTEMPTS
    assert "g-here" not in app.care_plan(person_id).goals
