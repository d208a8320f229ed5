"""Intake's use cases, as commands executed in batches. Synchronous, like all eventsourcing code.

Commands arriving together (from concurrent HTTP requests) are executed as one batch and saved in
one transaction; see shared/group_commit.py for why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from services.intake.domain.person import Answer, NoAnswers, Person, UnknownInstrument
from shared.domain import Provenance
from shared.eventstore import ServiceApplication

# Another process saved the same person meanwhile: reload and run the batch again.
CONFLICT_ATTEMPTS = 5


class PersonNotFound(LookupError):
    pass


@dataclass(frozen=True)
class RegisterPerson:
    agency: str
    agency_person_id: str
    preferred_name: str
    date_of_birth: date | None
    provenance: Provenance


@dataclass(frozen=True)
class RecordScreening:
    person_id: UUID
    screening_id: UUID
    instrument: str
    answers: dict[str, Answer]
    provenance: Provenance


Command = RegisterPerson | RecordScreening


@dataclass(frozen=True)
class Registration:
    person_id: UUID
    created: bool


@dataclass(frozen=True)
class ScreeningReceipt:
    person_id: UUID
    screening_id: UUID
    created: bool


Result = Registration | ScreeningReceipt
# A command refused for its own content: the others in its batch go ahead.
REFUSALS = (PersonNotFound, UnknownInstrument, NoAnswers)


@dataclass
class _Batch:
    """The people a batch touches, each loaded once, saved together."""

    application: IntakeApplication
    people: dict[UUID, Person] = field(default_factory=dict)

    def find(self, person_id: UUID) -> Person | None:
        if person_id not in self.people:
            try:
                self.people[person_id] = self.application.repository.get(person_id)
            except AggregateNotFoundError:
                return None
        return self.people[person_id]


class IntakeApplication(ServiceApplication):
    name = "Intake"

    def execute(self, command: Command) -> Result:
        outcome = self.execute_batch([command])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def execute_batch(self, commands: Sequence[Command]) -> list[Result | Exception]:
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            batch = _Batch(self)
            outcomes = [self._run(command, batch) for command in commands]
            try:
                self.save(*batch.people.values())
            except RecordConflictError:
                # Someone else saved one of these people: our cached copies may be stale.
                self.forget(batch.people)
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                continue
            return outcomes
        raise AssertionError("unreachable")

    def register_person(self, agency: str, agency_person_id: str, preferred_name: str,
                        date_of_birth: date | None, provenance: Provenance) -> Registration:
        return self.execute(RegisterPerson(agency, agency_person_id, preferred_name, date_of_birth, provenance))  # type: ignore[return-value]

    def record_screening(self, person_id: UUID, screening_id: UUID, instrument: str,
                         answers: dict[str, Answer], provenance: Provenance) -> ScreeningReceipt:
        return self.execute(RecordScreening(person_id, screening_id, instrument, answers, provenance))  # type: ignore[return-value]

    def get_person(self, person_id: UUID) -> Person:
        try:
            return self.read(person_id)
        except AggregateNotFoundError:
            raise PersonNotFound(f"no person {person_id}") from None

    def _run(self, command: Command, batch: _Batch) -> Result | Exception:
        try:
            if isinstance(command, RegisterPerson):
                return self._register(command, batch)
            return self._record_screening(command, batch)
        except REFUSALS as refusal:
            return refusal

    @staticmethod
    def _register(command: RegisterPerson, batch: _Batch) -> Registration:
        """Register a person once; registering the same agency record again returns the first."""
        person_id = Person.create_id(command.agency, command.agency_person_id)
        if batch.find(person_id) is not None:
            return Registration(person_id, created=False)
        batch.people[person_id] = Person(
            command.agency, command.agency_person_id, command.preferred_name, command.date_of_birth,
            command.provenance,
        )
        return Registration(person_id, created=True)

    @staticmethod
    def _record_screening(command: RecordScreening, batch: _Batch) -> ScreeningReceipt:
        """Record a screening once per screening id (derived from the caller's idempotency key)."""
        person = batch.find(command.person_id)
        if person is None:
            raise PersonNotFound(f"no person {command.person_id}")
        if person.has_screening(command.screening_id):
            return ScreeningReceipt(command.person_id, command.screening_id, created=False)
        person.record_screening(command.screening_id, command.instrument, command.answers, command.provenance)
        return ScreeningReceipt(command.person_id, command.screening_id, created=True)
