"""Medication collaboration's use cases: the team's notes and the prescribers' decisions, each
marked as a Part 2 record when its author writes it from a Part 2 program.

A mixin of CareplanApplication: it relies on the application's `scope_of_practice` (who may
prescribe) and on the care team's programs (`team_programs`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from services.careplan.aggregate_writes import AggregateWrites
from services.careplan.domain.medication import MedicationCollaboration, ScopeOfPractice
from services.careplan.domain.merged_history import MedicationHistory, medication_history
from shared.domain import Provenance
from shared.part2 import Program, made_by_part2

T = TypeVar("T")


class MedicationUseCases(AggregateWrites):
    scope_of_practice: ScopeOfPractice
    team_programs: Callable[[UUID], dict[str, Program]]

    def add_medication_note(self, person_id: UUID, note_id: str, kind: str, text: str, medication: str | None,
                            choice: str | None, author_role: str, provenance: Provenance) -> bool:
        part2 = self._made_by_part2(person_id, provenance)
        return self._change_medication(person_id, provenance, lambda record: record.add_note(
            note_id, kind, text, medication, choice, author_role, provenance, part2=part2))

    def record_prescribing_decision(self, person_id: UUID, decision_id: str, decision: str, medication: str,
                                    dose: str | None, rationale: str, discussed_with_person: bool,
                                    author_role: str, provenance: Provenance) -> bool:
        # Checked before anything is loaded or started: a refusal leaves no trace in the record.
        self.scope_of_practice.check_may_prescribe(author_role)
        part2 = self._made_by_part2(person_id, provenance)
        return self._change_medication(person_id, provenance, lambda record: record.record_decision(
            decision_id, decision, medication, dose, rationale, discussed_with_person, author_role,
            self.scope_of_practice, provenance, part2=part2))

    def _made_by_part2(self, person_id: UUID, provenance: Provenance) -> bool:
        """A note or decision is a Part 2 record when its author is on the team for a Part 2
        program as they write it (marked on the record: it stays so if they later leave)."""
        return made_by_part2(self.team_programs(person_id).get(provenance.actor_id))

    def medication_record(self, person_id: UUID) -> MedicationCollaboration | None:
        return self._stored(MedicationCollaboration.create_id(person_id))

    def medication_history(self, records: list[UUID]) -> MedicationHistory | None:
        """The notes and decisions of a survivor and the records merged into it (`records_of`),
        in time order, each with its record (domain/merged_history.py)."""
        return medication_history([(record, self.medication_record(record)) for record in records])

    def _change_medication(self, person_id: UUID, provenance: Provenance,
                           change: Callable[[MedicationCollaboration], T]) -> T:
        return self._change(MedicationCollaboration.create_id(person_id),
                            lambda: MedicationCollaboration(person_id, provenance), change)
