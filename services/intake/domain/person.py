"""A person served, as intake knows them: who registered them, and the screenings they completed.

Every event of a person's intake history is on this one aggregate, so its version numbers are the
per-person sequence that consumers use to apply a person's events in order.
"""

from __future__ import annotations

from datetime import date
from typing import Union
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from shared.domain import Provenance

PERSON_NAMESPACE = UUID("0d6c3c7e-3f0e-4d84-8a6c-6d0f1a2b9c01")

INSTRUMENTS = ("PHQ-9", "GAD-7", "AUDIT-C", "DAST-10", "PC-PTSD-5", "C-SSRS")

# An item answer: a number on the instrument's scale, yes/no, or None when the person declined
# (or the item was skipped): recorded as declined, never guessed.
Answer = Union[int, bool, None]


class UnknownInstrument(ValueError):
    """Intake only records instruments whose published scoring it implements."""


class NoAnswers(ValueError):
    """A screening with no items at all is not a screening."""


class Person(Aggregate):
    @staticmethod
    def create_id(agency: str, agency_person_id: str, **_: object) -> UUID:
        # The same agency record always maps to the same person: a repeated registration collides
        # with the first instead of creating a duplicate.
        return uuid5(PERSON_NAMESPACE, f"{agency}/{agency_person_id}")

    @event("Registered")
    def __init__(
        self,
        agency: str,
        agency_person_id: str,
        preferred_name: str,
        date_of_birth: date | None,
        provenance: Provenance,
    ) -> None:
        self.agency = agency
        self.agency_person_id = agency_person_id
        self.preferred_name = preferred_name
        self.date_of_birth = date_of_birth
        self.screenings: dict[UUID, str] = {}

    def record_screening(
        self,
        screening_id: UUID,
        instrument: str,
        answers: dict[str, Answer],
        provenance: Provenance,
    ) -> None:
        self.check_instrument_known(instrument)
        self.check_has_answers(answers)
        self._screening_recorded(screening_id, instrument, dict(answers), provenance)

    def has_screening(self, screening_id: UUID) -> bool:
        return screening_id in self.screenings

    @staticmethod
    def check_instrument_known(instrument: str) -> None:
        if instrument not in INSTRUMENTS:
            raise UnknownInstrument(f"unknown instrument {instrument!r}; known: {', '.join(INSTRUMENTS)}")

    @staticmethod
    def check_has_answers(answers: dict[str, Answer]) -> None:
        if not answers:
            raise NoAnswers("a screening needs at least one item, answered or declined")

    @event("ScreeningRecorded")
    def _screening_recorded(
        self,
        screening_id: UUID,
        instrument: str,
        answers: dict[str, Answer],
        provenance: Provenance,
    ) -> None:
        self.screenings[screening_id] = instrument
