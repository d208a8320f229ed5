"""Intake's use cases, as commands executed in batches. Synchronous, like all eventsourcing code.

Commands arriving together (from concurrent HTTP requests) are executed as one batch and saved in
one transaction; see shared/group_commit.py for why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, overload
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import PersistenceError, RecordConflictError

from services.intake.commands import (
    AccessCheck,
    AmendDetails,
    Amendment,
    Command,
    CommandFailed,
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
    UnknownCommand,
    command_failed,
)
from services.intake.domain.care_team_view import CareTeamView
from services.intake.domain.consent import InvalidConsent
from services.intake.domain.crisis import InvalidCrisisContact
from services.intake.domain.person import (
    CannotMerge,
    IdempotencyKeyReused,
    MergedAway,
    NoAnswers,
    Person,
    UnknownDetail,
)
from services.intake.domain.scoring import Answer, InvalidAnswers, ScoringSettings
from shared.access import MissingRight, NotVisible, RecordContext, authorize
from shared.domain import Provenance
from shared.following import FollowerApplication
from shared.group_commit import outcomes_until_a_failure

__all__ = [  # the commands are part of the application's interface
    "AccessCheck", "AmendDetails", "Amendment", "Command", "CommandFailed", "ConsentReceipt", "CrisisContactReceipt",
    "GrantConsent", "IntakeApplication", "MergePeople", "MergeReceipt", "PersonNotFound", "RecordCrisisContact",
    "RecordScreening", "RegisterPerson", "Registration", "Result", "RevokeConsent", "ScreeningReceipt",
    "UnknownCommand",
]

# Another process saved the same person meanwhile: reload and run the batch again.
CONFLICT_ATTEMPTS = 5

# A command refused for its own content: the others in its batch go ahead. Every rule raises
# before its command changes anything, so a refused command leaves its people as they were.
REFUSALS = (PersonNotFound, UnknownDetail, InvalidAnswers, NoAnswers, InvalidCrisisContact, InvalidConsent,
            CannotMerge, MergedAway, IdempotencyKeyReused)


def _person_access(person: Person) -> tuple[str, frozenset[str]]:
    """The agency that registered the person, and those of the duplicates merged into them."""
    return person.agency, frozenset(agency for agency, _ in person.agency_identities[1:])


def _team_members(view: CareTeamView) -> frozenset[str]:
    return frozenset(view.team)


# How long a chain of merges (A into B, later B into C) is followed to the record that now stands.
MAX_MERGE_CHAIN = 20


@dataclass
class _Batch:
    """The people a batch touches, each loaded once (checked out of the cache), saved together."""

    application: IntakeApplication
    people: dict[UUID, Person] = field(default_factory=dict)

    def find(self, person_id: UUID) -> Person | None:
        if person_id not in self.people:
            try:
                self.people[person_id] = self.application.check_out(person_id)
            except AggregateNotFoundError:
                return None
        return self.people[person_id]

    def existing(self, person_id: UUID) -> Person:
        person = self.find(person_id)
        if person is None:
            raise PersonNotFound(f"no person {person_id}")
        return person


class IntakeApplication(FollowerApplication[CareTeamView]):
    """Intake's commands, and its view of care teams (from careplan) that decides who sees what."""

    name = "Intake"
    follower_class = CareTeamView

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each command type's handler; a type not here is refused (UnknownCommand), never guessed.
        self._handlers: dict[type, Callable[[Any, _Batch], Result]] = {
            RegisterPerson: self._register,
            AmendDetails: self._amend,
            RecordScreening: self._record_screening,
            RecordCrisisContact: self._record_crisis_contact,
            GrantConsent: self._consent,
            RevokeConsent: self._consent,
            MergePeople: self._merge,
        }

    @property
    def scoring_settings(self) -> ScoringSettings:
        # PC-PTSD-5: 3 is the most sensitive cutoff, 4 the most efficient; the agency chooses.
        return ScoringSettings(pc_ptsd5_cutoff=int(self.env.get("PC_PTSD5_CUTOFF") or 3))

    # What each command returns, for the type checker; `execute` itself runs any of them.
    @overload
    def execute(self, command: RegisterPerson) -> Registration: ...
    @overload
    def execute(self, command: AmendDetails) -> Amendment: ...
    @overload
    def execute(self, command: RecordScreening) -> ScreeningReceipt: ...
    @overload
    def execute(self, command: RecordCrisisContact) -> CrisisContactReceipt: ...
    @overload
    def execute(self, command: GrantConsent | RevokeConsent) -> ConsentReceipt: ...
    @overload
    def execute(self, command: MergePeople) -> MergeReceipt: ...
    def execute(self, command: Command) -> Result:
        outcome = self.execute_batch([command])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def execute_batch(self, commands: Sequence[Command]) -> list[Result | Exception]:
        """Run the commands against each person's current state and save what they changed in one
        transaction. A command refused by a rule, or failing unexpectedly, fails alone."""
        failed: dict[int, Exception] = {}
        conflicts = 0
        while True:
            batch = _Batch(self)
            outcomes = outcomes_until_a_failure(commands, lambda command: self._run(command, batch), failed,
                                                command_failed)
            if outcomes is None:
                continue  # one more command failed: start over without it (each pass fails one more, or ends)
            try:
                self.record(*batch.people.values())  # save() without its per-aggregate protocol checks
            except RecordConflictError:
                # Someone else saved one of these people: our cached copies may be stale.
                self.forget(batch.people)
                conflicts += 1
                if conflicts == CONFLICT_ATTEMPTS:
                    raise
                continue
            except PersistenceError:
                raise  # the database failed, not a command: the whole batch hears it
            except Exception as error:  # noqa: BLE001 - what a command wrote cannot be stored
                self.forget(batch.people)
                if len(commands) == 1:
                    return [failed.get(0) or command_failed(commands[0], error)]
                # Saving each command alone finds the one at fault; the others are saved.
                return [failed[index] if index in failed else self.execute_batch([command])[0]
                        for index, command in enumerate(commands)]
            return outcomes

    def execute_checked_batch(self, items: Sequence[tuple[Command, AccessCheck | None]]) -> list[Result | Exception]:
        """`execute_batch` for commands that carry an access check: a command whose caller may not
        act on a person's record gets PersonNotFound, NotVisible or MissingRight and is not run.

        The checks read the store as it is now, in the same thread hop as the commands; a record
        changed between check and save (a merge, a team change) is as if changed just after.
        """
        people = {person_id for _, check in items if check is not None for person_id in check.person_ids}
        contexts = self.record_contexts(people) if people else {}
        refusals = [None if check is None else self._refusal(check, contexts) for _, check in items]
        allowed = iter(self.execute_batch([command for (command, _), refusal in zip(items, refusals) if refusal is None]))
        return [next(allowed) if refusal is None else refusal for refusal in refusals]

    @staticmethod
    def _refusal(check: AccessCheck, contexts: dict[UUID, RecordContext]) -> Exception | None:
        for person_id in check.person_ids:
            if person_id not in contexts:
                return PersonNotFound(f"no person {person_id}")
            try:
                authorize(check.principal, check.right, contexts[person_id])
            except (MissingRight, NotVisible) as refusal:
                return refusal
        return None

    def register_person(self, agency: str, agency_person_id: str, preferred_name: str,
                        date_of_birth: date | None, provenance: Provenance) -> Registration:
        return self.execute(RegisterPerson(agency, agency_person_id, preferred_name, date_of_birth, provenance))

    def record_screening(self, person_id: UUID, screening_id: UUID, instrument: str,
                         answers: dict[str, Answer], provenance: Provenance, sex: str | None = None) -> ScreeningReceipt:
        return self.execute(RecordScreening(person_id, screening_id, instrument, answers, provenance, sex))

    def get_person(self, person_id: UUID) -> Person:
        try:
            return self.read(person_id)
        except AggregateNotFoundError:
            raise PersonNotFound(f"no person {person_id}") from None

    def record_context(self, person_id: UUID) -> RecordContext:
        """What decides who may see this person's intake record. PersonNotFound if there is none.

        A survivor of a merge is also seen by the agencies of the duplicates it absorbed."""
        contexts = self.record_contexts({person_id})
        if person_id not in contexts:
            raise PersonNotFound(f"no person {person_id}")
        return contexts[person_id]

    def record_contexts(self, person_ids: set[UUID]) -> dict[UUID, RecordContext]:
        """`record_context` of each person who exists, all read in one query.

        Asked for every command: read_current brings kept copies of each Person and CareTeamView
        up to date instead of replaying each person's whole history (which grows with every
        screening)."""
        team_view_ids = {person_id: CareTeamView.create_id(person_id=person_id) for person_id in person_ids}
        views: dict[UUID, Any] = {person_id: _person_access for person_id in person_ids}
        views.update({view_id: _team_members for view_id in team_view_ids.values()})
        found = self.read_current_many(views)
        return {
            person_id: RecordContext(person_id, found.get(team_view_ids[person_id], frozenset()),
                                     registered_by=found[person_id][0], also_registered_by=found[person_id][1])
            for person_id in person_ids if person_id in found
        }

    def _run(self, command: Command, batch: _Batch) -> Result | Exception:
        handler = self._handlers.get(type(command))
        if handler is None:
            return UnknownCommand(command)  # before anything runs, so the batch has nothing to undo
        try:
            return handler(command, batch)
        except MergedAway as away:
            return MergedAway(away.person_id, self._standing(away.survivor_id, batch), away.field)
        except REFUSALS as refusal:
            return refusal

    @staticmethod
    def _standing(person_id: UUID, batch: _Batch) -> UUID:
        """The record that stands for this person now: at the end of any chain of merges."""
        for _ in range(MAX_MERGE_CHAIN):
            person = batch.find(person_id)
            if person is None or person.merged_into is None:
                break
            person_id = person.merged_into
        return person_id

    @staticmethod
    def _merge(command: MergePeople, batch: _Batch) -> MergeReceipt:
        """Merge the duplicate into the survivor; both are saved in the batch's one transaction."""
        survivor, duplicate = batch.existing(command.survivor_id), batch.existing(command.duplicate_id)
        created = survivor.merge_duplicate(duplicate, command.reason, command.provenance)
        return MergeReceipt(survivor.id, duplicate.id, survivor.merged_duplicates[duplicate.id],
                            list(survivor.agency_identities), created)

    @staticmethod
    def _register(command: RegisterPerson, batch: _Batch) -> Registration:
        """Register a person once; registering the same agency record again returns the first, or the
        record it was merged into (which answers to that agency record now)."""
        person_id = Person.create_id(command.agency, command.agency_person_id)
        if batch.find(person_id) is not None:
            return Registration(IntakeApplication._standing(person_id, batch), created=False)
        batch.people[person_id] = Person(
            command.agency, command.agency_person_id, command.preferred_name, command.date_of_birth,
            command.provenance, command.pronouns, command.preferred_language,
        )
        return Registration(person_id, created=True)

    @staticmethod
    def _amend(command: AmendDetails, batch: _Batch) -> Amendment:
        return Amendment(command.person_id,
                         batch.existing(command.person_id).amend_details(command.changes, command.provenance))

    @staticmethod
    def _consent(command: GrantConsent | RevokeConsent, batch: _Batch) -> ConsentReceipt:
        """Grant or revoke a consent directive; repeating either records nothing new."""
        person = batch.existing(command.person_id)
        if isinstance(command, GrantConsent):
            created = person.grant_consent(command.directive_id, command.recipient_kind, command.recipient_id,
                                           command.categories, command.starts_at, command.expires_at,
                                           command.provenance, command.fingerprint)
        else:
            created = person.revoke_consent(command.directive_id, command.revoked_at, command.provenance)
        return ConsentReceipt(command.person_id, command.directive_id, created)

    @staticmethod
    def _record_crisis_contact(command: RecordCrisisContact, batch: _Batch) -> CrisisContactReceipt:
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

    def _record_screening(self, command: RecordScreening, batch: _Batch) -> ScreeningReceipt:
        """Record a screening once per screening id (derived from the caller's idempotency key)."""
        person = batch.existing(command.person_id)
        if person.has_screening(command.screening_id):
            person.check_same_request(command.screening_id, command.fingerprint)
            return ScreeningReceipt(command.person_id, command.screening_id, created=False,
                                    result=person.screening_result(command.screening_id))
        result = person.record_screening(command.screening_id, command.instrument, command.answers,
                                         command.provenance, command.sex, self.scoring_settings,
                                         command.fingerprint)
        return ScreeningReceipt(command.person_id, command.screening_id, created=True, result=result)
