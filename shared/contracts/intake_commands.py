"""What agency systems send to intake, over HTTP or AMQP, and what they get back.

Over AMQP: publish to exchange `carecoord.commands` with routing key `intake`, a bearer token in
the `authorization` header (verified like an HTTP call), an optional `idempotency-key` header
(else the message id is the key; reused for a different command, it is dead-lettered), and as
body one of the commands below, told apart by `command`.
With `reply_to` set, the receipt comes back there; a command that is refused or invalid is
dead-lettered (queue `intake.commands.dead-letter`) with the reason in its headers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from shared.contracts.fields import IDENTIFIER_PATTERN, BoundedDateTime, DateOfBirth, identifier
from shared.contracts.intake import AgencyIdentity, ConsentCategory, CrisisKind, CrisisOutcome, Instrument

ItemId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$", description="Item id, e.g. item9")]


class RegisterPersonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: str = identifier(100, "The registering agency's id")
    agency_person_id: str = identifier(100, "The person's id at that agency")
    preferred_name: str = Field(min_length=1, max_length=200)
    date_of_birth: DateOfBirth | None = None
    pronouns: str | None = Field(None, max_length=60)
    preferred_language: str | None = Field(None, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$",
                                           description="BCP 47 tag, e.g. es, vi, ar")


class AmendDetailsRequest(BaseModel):
    """Only the fields given change; null clears pronouns, language or date of birth."""

    model_config = ConfigDict(extra="forbid")

    preferred_name: str | None = Field(None, min_length=1, max_length=200)
    pronouns: str | None = Field(None, max_length=60)
    preferred_language: str | None = Field(None, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
    date_of_birth: DateOfBirth | None = None

    def changes(self) -> dict[str, object]:
        return {field: getattr(self, field) for field in sorted(self.model_fields_set)}


class DetailsAmended(BaseModel):
    person_id: UUID
    changed: list[str]


class RecordScreeningRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instrument: Instrument
    answers: dict[ItemId, StrictInt | StrictBool | Literal["declined"]] = Field(
        min_length=1, max_length=40, description='Item id to answer; "declined" when not answered.')
    sex: Literal["male", "female", "other"] | None = Field(
        None, description="Used only by AUDIT-C's cutoff; leave out when unknown (the cautious cutoff applies)")


class RecordCrisisContactRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: CrisisKind
    occurred_at: BoundedDateTime
    location: str = Field(max_length=300)
    responders: list[Annotated[str, Field(max_length=200)]] = Field(max_length=20)
    what_helped: str = Field("", max_length=4000, description="What helped, e.g. the de-escalation used")
    outcome: CrisisOutcome
    follow_up_due: BoundedDateTime | None = Field(
        None, description="Default: 24 hours after a crisis contact, 7 days after a hospital discharge")


class GrantConsentRequest(BaseModel):
    # The schema says what the rule (services/intake/domain/consent.py) enforces: a named person
    # an outside agency or a program is named by recipient_id.
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "if": {"properties": {"recipient_kind": {"enum": ["named_person", "outside_agency", "program"]}}},
        "then": {"required": ["recipient_id"], "properties": {"recipient_id": {"type": "string", "minLength": 1}}},
    })

    recipient_kind: Literal["care_team", "named_person", "outside_agency", "program"]
    recipient_id: str | None = Field(None, min_length=1, max_length=200, pattern=IDENTIFIER_PATTERN,
                                     description="Who, unless the recipient is the care team: a person's or an agency's id, "
                                                 "or for `program` the program's id (its care-team members)")
    categories: list[ConsentCategory] = Field(
        min_length=1, max_length=4, description="substance_use is covered only when named (42 CFR Part 2)")
    starts_at: BoundedDateTime | None = Field(None, description="Default: now")
    expires_at: BoundedDateTime | None = None


class RevokeConsentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revoked_at: BoundedDateTime | None = Field(None, description="Default: now")


class ConsentRecorded(BaseModel):
    person_id: UUID
    directive_id: str


class MergePeopleRequest(BaseModel):
    """Merge a duplicate record (the same person, registered by another agency) into this one."""

    model_config = ConfigDict(extra="forbid")

    duplicate_id: UUID = Field(description="The record merged away; its history is kept, it records nothing new")
    reason: str = Field(min_length=1, max_length=1000, description="Why these are the same person (kept at intake)")


class PeopleMerged(BaseModel):
    merge_id: UUID = Field(description="This merge's id: undo it with POST /people/{survivor_id}/merges/{merge_id}/undo")
    survivor_id: UUID
    duplicate_id: UUID
    reason: str = Field(description="As recorded by the first merge of this pair")
    agency_identities: list[AgencyIdentity] = Field(description="Every agency record the survivor answers to now")


class UndoMergeRequest(BaseModel):
    """Undo a wrong merge: both records stand alone again, each with its own history."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000, description="Why the merge was wrong (kept at intake)")


class MergeUndone(BaseModel):
    merge_id: UUID
    survivor_id: UUID
    duplicate_id: UUID
    agency_identities: list[AgencyIdentity] = Field(description="Every agency record the survivor answers to now")


class PersonRegistration(BaseModel):
    person_id: UUID


class ScreeningResultView(BaseModel):
    instrument: str
    domain: str
    total: int | None
    band: str | None
    positive: bool | None
    flags: list[str]
    complete: bool
    urgent: bool = Field(description="Suicide risk: the care team is notified as a crisis")


class ScreeningRecorded(BaseModel):
    person_id: UUID
    screening_id: UUID
    result: ScreeningResultView | None


class CrisisContactRecorded(BaseModel):
    person_id: UUID
    contact_id: UUID
    follow_up_due: datetime


# The same commands as messages: the body of an AMQP command, told apart by `command`.


class RegisterPersonCommand(RegisterPersonRequest):
    command: Literal["register_person"]


class AmendDetailsCommand(AmendDetailsRequest):
    command: Literal["amend_details"]
    person_id: UUID

    def changes(self) -> dict[str, object]:
        return {field: getattr(self, field) for field in sorted(self.model_fields_set - {"command", "person_id"})}


class RecordScreeningCommand(RecordScreeningRequest):
    command: Literal["record_screening"]
    person_id: UUID


class RecordCrisisContactCommand(RecordCrisisContactRequest):
    command: Literal["record_crisis_contact"]
    person_id: UUID


class GrantConsentCommand(GrantConsentRequest):
    command: Literal["grant_consent"]
    person_id: UUID


class RevokeConsentCommand(RevokeConsentRequest):
    command: Literal["revoke_consent"]
    person_id: UUID
    directive_id: str = identifier(100)


class MergePeopleCommand(MergePeopleRequest):
    command: Literal["merge_people"]
    survivor_id: UUID


AgencyCommand = Annotated[
    RegisterPersonCommand | AmendDetailsCommand | RecordScreeningCommand | RecordCrisisContactCommand
    | GrantConsentCommand
    | RevokeConsentCommand
    | MergePeopleCommand,
    Field(discriminator="command"),
]
