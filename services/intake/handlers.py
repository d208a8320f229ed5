"""What each of intake's commands does to the people of its batch (services/intake/application.py
runs them, saves the batch in one transaction and retries it on conflicts).

Every rule raises before its command changes anything, so a command refused for its content
(`REFUSALS`) leaves its people as they were and the others in its batch go ahead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.intake.commands import (
    AmendDetails,
    Amendment,
    ConsentReceipt,
    CrisisContactReceipt,
    GrantConsent,
    MergePeople,
    MergeReceipt,
    PersonNotFound,
    RecordCrisisContact,
    RecordScreening,
    RegisterPerson,
    Registration,
    Result,
    RevokeConsent,
    ScreeningReceipt,
    UndoMerge,
)
from services.intake.domain.consent import InvalidConsent
from services.intake.domain.crisis import InvalidCrisisContact
from services.intake.domain.person import Person
from services.intake.domain.refusals import (
    CannotMerge,
    IdempotencyKeyReused,
    MergedAway,
    NoAnswers,
    UnknownDetail,
    UnknownMerge,
)
from services.intake.domain.scoring import InvalidAnswers, ScoringSettings

# A command refused for its own content: the others in its batch go ahead. Every rule raises
# before its command changes anything, so a refused command leaves its people as they were.
REFUSALS = (PersonNotFound, UnknownDetail, InvalidAnswers, NoAnswers, InvalidCrisisContact, InvalidConsent,
            CannotMerge, MergedAway, IdempotencyKeyReused, UnknownMerge)


# How long a chain of merges (A into B, later B into C) is followed to the record that now stands.
MAX_MERGE_CHAIN = 20


@dataclass
class Batch:
    """The people a batch touches, each loaded once (checked out of the cache), saved together."""

    check_out: Callable[[UUID], Person]  # the application's: raises AggregateNotFoundError
    scoring_settings: ScoringSettings
    people: dict[UUID, Person] = field(default_factory=dict)

    def find(self, person_id: UUID) -> Person | None:
        if person_id not in self.people:
            try:
                self.people[person_id] = self.check_out(person_id)
            except AggregateNotFoundError:
                return None
        return self.people[person_id]

    def existing(self, person_id: UUID) -> Person:
        person = self.find(person_id)
        if person is None:
            raise PersonNotFound(f"no person {person_id}")
        return person


def standing(person_id: UUID, batch: Batch) -> UUID:
    """The record that stands for this person now: at the end of any chain of merges."""
    for _ in range(MAX_MERGE_CHAIN):
        person = batch.find(person_id)
        if person is None or person.merged_into is None:
            break
        person_id = person.merged_into
    return person_id


def merge(command: MergePeople, batch: Batch) -> MergeReceipt:
    """Merge the duplicate into the survivor; both are saved in the batch's one transaction."""
    survivor, duplicate = batch.existing(command.survivor_id), batch.existing(command.duplicate_id)
    created = survivor.merge_duplicate(duplicate, command.reason, command.provenance)
    return MergeReceipt(survivor.id, duplicate.id, survivor.merged_duplicates[duplicate.id],
                        list(survivor.agency_identities), created, survivor.current_merge_of(duplicate.id))


def undo_merge(command: UndoMerge, batch: Batch) -> MergeReceipt:
    """Split a wrong merge again; both records are saved in the batch's one transaction."""
    survivor, duplicate = batch.existing(command.survivor_id), batch.existing(command.duplicate_id)
    created = survivor.undo_merge(duplicate, command.merge_id, command.reason, command.provenance)
    return MergeReceipt(survivor.id, duplicate.id, command.reason, list(survivor.agency_identities), created)


def register(command: RegisterPerson, batch: Batch) -> Registration:
    """Register a person once; registering the same agency record again returns the first, or the
    record it was merged into (which answers to that agency record now)."""
    person_id = Person.create_id(command.agency, command.agency_person_id)
    if batch.find(person_id) is not None:
        return Registration(standing(person_id, batch), created=False)
    batch.people[person_id] = Person(
        command.agency, command.agency_person_id, command.preferred_name, command.date_of_birth,
        command.provenance, command.pronouns, command.preferred_language,
    )
    return Registration(person_id, created=True)


def amend(command: AmendDetails, batch: Batch) -> Amendment:
    return Amendment(command.person_id,
                     batch.existing(command.person_id).amend_details(command.changes, command.provenance))


def consent(command: GrantConsent | RevokeConsent, batch: Batch) -> ConsentReceipt:
    """Grant or revoke a consent directive; repeating either records nothing new."""
    person = batch.existing(command.person_id)
    if isinstance(command, GrantConsent):
        created = person.grant_consent(command.directive_id, command.recipient_kind, command.recipient_id,
                                       command.categories, command.starts_at, command.expires_at,
                                       command.provenance, command.fingerprint)
    else:
        created = person.revoke_consent(command.directive_id, command.revoked_at, command.provenance)
    return ConsentReceipt(command.person_id, command.directive_id, created)


def record_crisis_contact(command: RecordCrisisContact, batch: Batch) -> CrisisContactReceipt:
    """Record a crisis contact once per contact id (derived from the caller's idempotency key)."""
    person = batch.existing(command.person_id)
    if command.contact_id in person.crisis_contacts:
        person.check_same_request(command.contact_id, command.fingerprint)
        return CrisisContactReceipt(command.person_id, command.contact_id,
                                    person.crisis_contacts[command.contact_id], created=False)
    due = person.record_crisis_contact(
        command.contact_id, command.kind, command.occurred_at, command.location, command.responders,
        command.what_helped, command.outcome, command.follow_up_due, command.provenance, command.fingerprint,
    )
    return CrisisContactReceipt(command.person_id, command.contact_id, due, created=True)


def record_screening(command: RecordScreening, batch: Batch) -> ScreeningReceipt:
    """Record a screening once per screening id (derived from the caller's idempotency key)."""
    person = batch.existing(command.person_id)
    if person.has_screening(command.screening_id):
        person.check_same_request(command.screening_id, command.fingerprint)
        return ScreeningReceipt(command.person_id, command.screening_id, created=False,
                                result=person.screening_result(command.screening_id))
    result = person.record_screening(command.screening_id, command.instrument, command.answers,
                                     command.provenance, command.sex, batch.scoring_settings,
                                     command.fingerprint)
    return ScreeningReceipt(command.person_id, command.screening_id, created=True, result=result)


Handler = Callable[[Any, Batch], Result]

# Each command type's handler; a type not here is refused (UnknownCommand), never guessed.
HANDLERS: dict[type, Handler] = {
    RegisterPerson: register,
    AmendDetails: amend,
    RecordScreening: record_screening,
    RecordCrisisContact: record_crisis_contact,
    GrantConsent: consent,
    RevokeConsent: consent,
    MergePeople: merge,
    UndoMerge: undo_merge,
}
