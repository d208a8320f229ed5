"""Intake's commands and what each returns: plain data, executed in batches by IntakeApplication."""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from services.intake.domain.person import Person
from services.intake.domain.scoring import Answer, ScreeningResult
from shared.access import Principal, Right
from shared.domain import Provenance

logger = logging.getLogger(__name__)


class PersonNotFound(LookupError):
    pass


class CommandFailed(Exception):
    """A command failed for a reason no rule names (a bug, or content that cannot be stored).

    Nothing of it is recorded and the other commands of its batch go ahead; the log has the
    details, by ids only."""

    def __init__(self, command: str, person_ids: tuple[UUID, ...]) -> None:
        super().__init__(f"{command} failed unexpectedly; nothing of it was recorded")
        self.person_ids = person_ids


class UnknownCommand(TypeError):
    """A command of a type intake has no handler for: a caller's mistake, refused before it runs.

    Only its type is named: its fields may hold clinical content."""

    def __init__(self, command: object) -> None:
        super().__init__(f"intake has no handler for {type(command).__name__} commands; nothing of it was recorded")


@dataclass(frozen=True)
class RegisterPerson:
    agency: str
    agency_person_id: str
    preferred_name: str
    date_of_birth: date | None
    provenance: Provenance
    pronouns: str | None = None
    preferred_language: str | None = None


@dataclass(frozen=True)
class AmendDetails:
    person_id: UUID
    changes: dict[str, Any]
    provenance: Provenance


@dataclass(frozen=True)
class RecordScreening:
    person_id: UUID
    screening_id: UUID
    instrument: str
    answers: dict[str, Answer]
    provenance: Provenance
    sex: str | None = None  # only AUDIT-C's cutoff depends on it; unknown gets the cautious one
    # Of the request as the caller sent it: a repeat under the same id must be the same request.
    fingerprint: str | None = None


@dataclass(frozen=True)
class RecordCrisisContact:
    person_id: UUID
    contact_id: UUID
    kind: str
    occurred_at: datetime
    location: str
    responders: list[str]
    what_helped: str
    outcome: str
    follow_up_due: datetime | None
    provenance: Provenance
    fingerprint: str | None = None


@dataclass(frozen=True)
class GrantConsent:
    person_id: UUID
    directive_id: str
    recipient_kind: str
    recipient_id: str | None
    categories: list[str]
    starts_at: datetime
    expires_at: datetime | None
    provenance: Provenance
    fingerprint: str | None = None


@dataclass(frozen=True)
class RevokeConsent:
    person_id: UUID
    directive_id: str
    revoked_at: datetime
    provenance: Provenance


@dataclass(frozen=True)
class MergePeople:
    survivor_id: UUID
    duplicate_id: UUID
    reason: str
    provenance: Provenance


@dataclass(frozen=True)
class UndoMerge:
    survivor_id: UUID
    duplicate_id: UUID  # looked up from the merge's id before the batch, so access covers both
    merge_id: UUID
    reason: str
    provenance: Provenance


Command = (RegisterPerson | AmendDetails | RecordScreening | RecordCrisisContact | GrantConsent | RevokeConsent
           | MergePeople | UndoMerge)


@dataclass(frozen=True)
class AccessCheck:
    """The caller must hold `right` on each of these people's records (in this order).

    Checked in the batch that runs the command: one thread hop per batch instead of one per
    request, and the records of the whole batch read in one query (see `execute_checked_batch`).
    """

    principal: Principal
    right: Right
    person_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class Registration:
    person_id: UUID
    created: bool


@dataclass(frozen=True)
class ScreeningReceipt:
    person_id: UUID
    screening_id: UUID
    created: bool
    result: ScreeningResult | None


@dataclass(frozen=True)
class CrisisContactReceipt:
    person_id: UUID
    contact_id: UUID
    follow_up_due: datetime
    created: bool


@dataclass(frozen=True)
class ConsentReceipt:
    person_id: UUID
    directive_id: str
    created: bool


@dataclass(frozen=True)
class Amendment:
    person_id: UUID
    changed: list[str]


@dataclass(frozen=True)
class MergeReceipt:
    survivor_id: UUID
    duplicate_id: UUID
    reason: str  # as first recorded
    agency_identities: list[tuple[str, str]]  # all the survivor answers to now
    created: bool
    merge_id: UUID | None = None  # of the merge that stands (None only for an undo's receipt)


Result = Registration | Amendment | ScreeningReceipt | CrisisContactReceipt | ConsentReceipt | MergeReceipt


def command_failed(command: Command, error: Exception) -> CommandFailed:
    """The failure to answer for a command that raised unexpectedly, logged by ids and code
    locations only: an error's message and values may hold clinical content."""
    failure = CommandFailed(type(command).__name__, _person_ids(command))
    where = "; ".join(f"{frame.filename}:{frame.lineno} in {frame.name}"
                      for frame in traceback.extract_tb(error.__traceback__))
    logger.error("intake command %s for person(s) %s failed with %s at %s; nothing of it was recorded",
                 type(command).__name__, ", ".join(map(str, failure.person_ids)), type(error).__name__, where,
                 extra={"correlation_id": command.provenance.correlation_id})
    return failure


def _person_ids(command: Command) -> tuple[UUID, ...]:
    if isinstance(command, RegisterPerson):
        return (Person.create_id(command.agency, command.agency_person_id),)
    if isinstance(command, (MergePeople, UndoMerge)):
        return command.survivor_id, command.duplicate_id
    return (command.person_id,)
