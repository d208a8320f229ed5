"""One person's medication collaboration and care plan when intake merged other records into
theirs: the same rules the picture follows when it combines records (picture/merged.py), for the
endpoints that show the aggregates themselves.

Which records are one person is decided elsewhere, once (merged_records.py: `records_of`, survivor
first); these functions only combine what each record holds. Nothing is moved or copied between
records: each entry stays on the record it was written on, and says which (`record_id`), so after
an undo each record again shows only its own.

- Medication notes and prescribing decisions: both histories, in the time they were recorded (a
  tie keeps the survivor's first, then each record's own order).
- Care plan: the survivor's stays current; the goals of the other records are carried over, in the
  person's own words, each with its record. A survivor with no plan yet shows the first duplicate's
  as current (as the picture does); the first change written makes the survivor's plan current.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Generic, TypeVar
from uuid import UUID

from services.careplan.domain.medication import CollaborationNote, MedicationCollaboration, PrescribingDecision
from services.careplan.domain.plan import CarePlan
from services.careplan.domain.plan_parts import Goal

T = TypeVar("T")
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class FromRecord(Generic[T]):
    """An entry and the record it was written on."""

    record_id: UUID
    entry: T


@dataclass(frozen=True)
class MedicationHistory:
    notes: list[FromRecord[CollaborationNote]]
    decisions: list[FromRecord[PrescribingDecision]]


def medication_history(records: Sequence[tuple[UUID, MedicationCollaboration | None]]) -> MedicationHistory | None:
    """Every record's notes and decisions in time order (None: no record has any collaboration)."""
    found = [(record_id, collaboration) for record_id, collaboration in records if collaboration is not None]
    if not found:
        return None
    notes = [FromRecord(record_id, note) for record_id, collaboration in found for note in collaboration.notes]
    decisions = [FromRecord(record_id, decision) for record_id, collaboration in found
                 for decision in collaboration.decisions]
    # sorted() is stable: equal times keep the survivor's first and each record's own order.
    return MedicationHistory(notes=sorted(notes, key=lambda n: n.entry.added_at or _EARLIEST),
                             decisions=sorted(decisions, key=lambda d: d.entry.decided_at or _EARLIEST))


@dataclass(frozen=True)
class MergedPlan:
    record_id: UUID  # whose plan is current
    plan: CarePlan
    carried_over_goals: list[FromRecord[Goal]]


def merged_plan(records: Sequence[tuple[UUID, CarePlan | None]]) -> MergedPlan | None:
    """The current plan (the survivor's, else the first record's that has one) with the other
    records' goals carried over (None: no record has a plan). `records`: survivor first."""
    current = next(((record_id, plan) for record_id, plan in records if plan is not None), None)
    if current is None:
        return None
    record_id, plan = current
    carried = [FromRecord(other_id, goal) for other_id, other in records
               if other is not None and other_id != record_id for goal in other.goals.values()]
    return MergedPlan(record_id=record_id, plan=plan, carried_over_goals=carried)
