"""Intake's use cases. Synchronous: call it from a worker thread, never on the event loop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.intake.domain.person import Answer, Person
from shared.domain import Provenance
from shared.eventstore import ServiceApplication


class PersonNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Registration:
    person_id: UUID
    created: bool


@dataclass(frozen=True)
class ScreeningReceipt:
    person_id: UUID
    screening_id: UUID
    created: bool


class IntakeApplication(ServiceApplication):
    name = "Intake"

    def register_person(
        self,
        agency: str,
        agency_person_id: str,
        preferred_name: str,
        date_of_birth: date | None,
        provenance: Provenance,
    ) -> Registration:
        """Register a person once; registering the same agency record again returns the first."""
        person_id = Person.create_id(agency, agency_person_id)
        if person_id in self.repository:
            return Registration(person_id, created=False)
        person = Person(agency, agency_person_id, preferred_name, date_of_birth, provenance)
        self.save(person)
        return Registration(person.id, created=True)

    def record_screening(
        self,
        person_id: UUID,
        screening_id: UUID,
        instrument: str,
        answers: dict[str, Answer],
        provenance: Provenance,
    ) -> ScreeningReceipt:
        """Record a screening once per screening id (derived from the caller's idempotency key)."""
        person = self._get_person(person_id)
        if person.has_screening(screening_id):
            return ScreeningReceipt(person_id, screening_id, created=False)
        person.record_screening(screening_id, instrument, answers, provenance)
        self.save(person)
        return ScreeningReceipt(person_id, screening_id, created=True)

    def get_person(self, person_id: UUID) -> Person:
        return self._get_person(person_id)

    def _get_person(self, person_id: UUID) -> Person:
        try:
            return self.repository.get(person_id)
        except AggregateNotFoundError:
            raise PersonNotFound(f"no person {person_id}") from None
