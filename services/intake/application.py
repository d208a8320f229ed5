"""Intake's use cases, as commands executed in batches. Synchronous, like all eventsourcing code.

Commands arriving together (from concurrent HTTP requests) are executed as one batch and saved in
one transaction; see shared/group_commit.py for why.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    UndoMerge,
    UnknownCommand,
    command_failed,
)
from services.intake.domain.care_team_view import CareTeamView
from services.intake.domain.person import Person, merge_id_of
from services.intake.domain.refusals import MergedAway
from services.intake.domain.scoring import Answer, ScoringSettings
from services.intake.handlers import HANDLERS, REFUSALS, Batch, standing
from shared.access import MissingRight, NotVisible, RecordContext, authorize
from shared.domain import Provenance
from shared.following import FollowerApplication
from shared.group_commit import outcomes_until_a_failure

__all__ = [  # the commands are part of the application's interface
    "AccessCheck", "AmendDetails", "Amendment", "Command", "CommandFailed", "ConsentReceipt", "CrisisContactReceipt",
    "GrantConsent", "IntakeApplication", "MergePeople", "MergeReceipt", "PersonNotFound", "RecordCrisisContact",
    "RecordScreening", "RegisterPerson", "Registration", "Result", "RevokeConsent", "ScreeningReceipt",
    "UndoMerge", "UnknownCommand",
]

# Another process saved the same person meanwhile: reload and run the batch again.
CONFLICT_ATTEMPTS = 5


def _person_access(person: Person) -> tuple[str, frozenset[str]]:
    """The agency that registered the person, and those of the duplicates merged into them."""
    return person.agency, frozenset(agency for agency, _ in person.agency_identities[1:])


def _team_members(view: CareTeamView) -> frozenset[str]:
    return frozenset(view.team)


class IntakeApplication(FollowerApplication[CareTeamView]):
    """Intake's commands, and its view of care teams (from careplan) that decides who sees what."""

    name = "Intake"
    follower_class = CareTeamView

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
    def execute(self, command: MergePeople | UndoMerge) -> MergeReceipt: ...
    def execute(self, command: Command) -> Result:
        outcome = self.execute_batch([command])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def merge_history(self, person_id: UUID) -> list[dict[str, Any]]:
        """Every merge and undo on this record, with who did it (for auditors and the team)."""
        merges: dict[UUID, int] = {}
        history: list[dict[str, Any]] = []
        kinds = (Person.DuplicateMerged, Person.MergedInto, Person.MergeUndone, Person.Unmerged)
        for event in self.read_events(person_id, kinds):
            entry = {"reason": event.reason, "by": event.provenance.actor_id, "by_role": event.provenance.actor_role,
                     "at": event.timestamp, "merge_id": getattr(event, "merge_id", None)}
            if isinstance(event, Person.DuplicateMerged):
                times = merges[event.duplicate_id] = merges.get(event.duplicate_id, -1) + 1
                entry.update(what="merged_in", other_record=event.duplicate_id,
                             merge_id=merge_id_of(person_id, event.duplicate_id, times))
            elif isinstance(event, Person.MergedInto):
                entry.update(what="merged_into", other_record=event.survivor_id)
            elif isinstance(event, Person.MergeUndone):
                entry.update(what="merge_undone", other_record=event.duplicate_id)
            else:
                entry.update(what="unmerged", other_record=event.survivor_id)
            history.append(entry)
        return history

    def duplicate_of_merge(self, survivor_id: UUID, merge_id: UUID) -> UUID:
        """Which record a merge into `survivor_id` joined (PersonNotFound / UnknownMerge: 404)."""
        try:
            survivor: Person = self.read(survivor_id)
        except AggregateNotFoundError:
            raise PersonNotFound(f"no person {survivor_id}") from None
        return survivor.duplicate_of_merge(merge_id)

    def execute_batch(self, commands: Sequence[Command]) -> list[Result | Exception]:
        """Run the commands against each person's current state and save what they changed in one
        transaction. A command refused by a rule, or failing unexpectedly, fails alone."""
        failed: dict[int, Exception] = {}
        conflicts = 0
        while True:
            batch = Batch(self.check_out, self.scoring_settings)
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

    @staticmethod
    def _run(command: Command, batch: Batch) -> Result | Exception:
        handler = HANDLERS.get(type(command))
        if handler is None:
            return UnknownCommand(command)  # before anything runs, so the batch has nothing to undo
        try:
            return handler(command, batch)
        except MergedAway as away:
            return MergedAway(away.person_id, standing(away.survivor_id, batch), away.field)
        except REFUSALS as refusal:
            return refusal
