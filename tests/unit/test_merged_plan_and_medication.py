"""After a merge, the survivor's medication collaboration and care plan show both records: notes and
decisions of both in the time they were recorded, each with its record; the survivor's plan current
with the duplicate's goals carried over in the person's own words. After an undo each record shows
only its own again. Applications run in memory and on PostgreSQL."""

from __future__ import annotations

from datetime import date
from functools import reduce
from uuid import UUID, uuid4

from services.careplan.domain.medication import MedicationCollaboration
from services.careplan.domain.merged_history import medication_history, merged_plan
from services.careplan.domain.plan import CarePlan
from shared.contracts.intake import PersonMergeUndoneV1, PersonMergedIntoV1
from shared.domain import Provenance
from tests.unit.test_merges_downstream import LEAD, Intake, intake  # noqa: F401 (the fixture)

NURSE = Provenance("nia", "clinician", "corr-med")


def _history(careplan, person_id: UUID) -> list[tuple[str, UUID]]:  # noqa: ANN001
    found = careplan.medication_history(careplan.records_of(person_id))
    return [] if found is None else [(n.entry.note_id, n.record_id) for n in found.notes]


def _merge(intake: Intake, survivor: UUID, duplicate: UUID) -> None:
    intake.publish(survivor, intake.merged(duplicate))
    intake.publish(duplicate, PersonMergedIntoV1(survivor_id=survivor))


def _note(careplan, person_id: UUID, note_id: str) -> None:  # noqa: ANN001
    assert careplan.add_medication_note(person_id, note_id, "person_says", f"said {note_id}", "sertraline", None,
                                        "clinician", NURSE)


def test_the_survivor_lists_both_records_notes_and_decisions_in_time_order_each_with_its_record(careplan, intake):
    survivor, duplicate = intake.register("north"), intake.register("south")
    _note(careplan, survivor, "n1")
    _note(careplan, duplicate, "s1")
    _note(careplan, survivor, "n2")
    assert careplan.record_prescribing_decision(duplicate, "d-south", "start", "sertraline", "50 mg", "agreed",
                                                True, "prescriber", NURSE)
    assert _history(careplan, survivor) == [("n1", survivor), ("n2", survivor)], "not merged yet"

    _merge(intake, survivor, duplicate)

    assert _history(careplan, survivor) == [("n1", survivor), ("s1", duplicate), ("n2", survivor)]
    decisions = careplan.medication_history(careplan.records_of(survivor)).decisions
    assert [(d.entry.decision_id, d.record_id) for d in decisions] == [("d-south", duplicate)]

    undo = PersonMergeUndoneV1(merge_id=uuid4(), survivor_id=survivor, duplicate_id=duplicate)
    intake.publish(survivor, undo)
    intake.publish(duplicate, undo)
    assert _history(careplan, survivor) == [("n1", survivor), ("n2", survivor)]
    assert _history(careplan, duplicate) == [("s1", duplicate)]


def test_a_notes_time_is_its_events_and_comes_back_when_the_record_is_rebuilt_from_its_events(careplan, intake):
    person = intake.register("north")
    _note(careplan, person, "n1")
    assert careplan.record_prescribing_decision(person, "d1", "stop", "sertraline", None, "the person's choice",
                                                True, "prescriber", NURSE)
    events = list(careplan.events.get(MedicationCollaboration.create_id(person)))
    rebuilt = reduce(lambda record, event: event.mutate(record), events, None)
    assert rebuilt.notes[0].added_at == events[1].timestamp and rebuilt.notes[0].added_at is not None
    assert rebuilt.decisions[0].decided_at == events[2].timestamp
    assert careplan.medication_record(person).notes == rebuilt.notes


def test_the_survivors_plan_stays_current_and_the_duplicates_goals_are_carried_over(careplan, intake):
    survivor, duplicate = intake.register("north"), intake.register("south")
    careplan.set_goal(duplicate, "g-south", "See my sister on Sundays", "Family contact", None, [], None, LEAD)
    careplan.set_goal(survivor, "g-north", "Keep my flat", None, None, [], None, LEAD)
    _merge(intake, survivor, duplicate)

    shown = careplan.merged_care_plan(careplan.records_of(survivor))
    assert shown.record_id == survivor and list(shown.plan.goals) == ["g-north"]
    assert [(g.record_id, g.entry.in_own_words) for g in shown.carried_over_goals] == [
        (duplicate, "See my sister on Sundays")]


def test_a_survivor_without_a_plan_shows_the_duplicates_until_it_has_its_own():
    survivor, duplicate = UUID(int=1), UUID(int=2)
    assert merged_plan([(survivor, None), (duplicate, None)]) is None
    assert medication_history([(survivor, None), (duplicate, None)]) is None
    theirs = CarePlan.start(duplicate, date(2026, 3, 2), LEAD)
    theirs.set_goal("g", "Sleep through", None, None, [], LEAD)
    shown = merged_plan([(survivor, None), (duplicate, theirs)])
    assert (shown.record_id, list(shown.plan.goals), shown.carried_over_goals) == (duplicate, ["g"], [])
