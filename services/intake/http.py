"""Intake's HTTP API: validate, make one call to the shared command handler, map its refusals."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date, datetime
from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Response, status
from pydantic import BaseModel, Field

from services.intake.agency_commands import Refused
from services.intake.deps import Application, Commands, ServiceFoundation
from shared.access import Right
from shared.contracts.intake import AgencyIdentity
from shared.contracts.intake_commands import (
    AmendDetailsRequest,
    ConsentRecorded,
    CrisisContactRecorded,
    DetailsAmended,
    GrantConsentRequest,
    MergePeopleRequest,
    MergeUndone,
    PeopleMerged,
    PersonRegistration,
    RecordCrisisContactRequest,
    RecordScreeningRequest,
    RegisterPersonRequest,
    RevokeConsentRequest,
    ScreeningRecorded,
    UndoMergeRequest,
)
from shared.http import CurrentPrincipal, RefusedRequest, RequestProvenance
from shared.recorded_reads import RecordedRead

T = TypeVar("T")
IdempotencyKey = Annotated[str | None, Header(
    max_length=200, description="The same key and request record once (200 on a repeat); the key with another "
                                "request: 422")]


class MergeEventView(BaseModel):
    what: str = Field(description="merged_in, merged_into, merge_undone (survivor side), unmerged (duplicate side)")
    other_record: UUID
    merge_id: UUID | None = Field(description="Known on the survivor's side and on undos")
    reason: str
    by: str
    by_role: str
    at: datetime


class PersonSummary(BaseModel):
    person_id: UUID
    agency: str
    agency_person_id: str
    preferred_name: str
    pronouns: str | None
    preferred_language: str | None
    date_of_birth: date | None
    screenings: int
    agency_identities: list[AgencyIdentity] = Field(
        description="Every agency record this person answers to: their own, then those of duplicates merged in")
    merged_duplicates: list[UUID] = Field(description="Records merged into this one (their histories are kept there)")
    merged_into: UUID | None = Field(
        description="Set when this record was merged into another: it records nothing new, address that one")
    merge_history: list[MergeEventView] = Field(
        [], description="Every merge into or out of this record and every undo, in order, with who did it and why")



async def _answer(outcome: Awaitable[tuple[T, bool]], response: Response) -> T:
    """201 for something new, 200 for a repeat of an earlier command; a refusal as its status."""
    try:
        receipt, created = await outcome
    except Refused as refused:
        raise HTTPException(refused.status, refused.detail) from None
    if not created:
        response.status_code = status.HTTP_200_OK
    return receipt


router = APIRouter(prefix="/people", tags=["people"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PersonRegistration,
             summary="Register a person (200 with the same id if already registered)")
async def register_person(body: RegisterPersonRequest, principal: CurrentPrincipal, commands: Commands,
                          provenance: RequestProvenance, response: Response):
    return await _answer(commands.register(principal, body, provenance), response)


@router.patch("/{person_id}", response_model=DetailsAmended,
              summary="Amend how the person is named and addressed (only the fields given change)")
async def amend_details(person_id: UUID, body: AmendDetailsRequest, principal: CurrentPrincipal, commands: Commands,
                        provenance: RequestProvenance, response: Response):
    return await _answer(commands.amend_details(principal, person_id, body, provenance), response)


@router.post("/{person_id}/screenings", status_code=status.HTTP_201_CREATED, response_model=ScreeningRecorded,
             summary="Record a screening and score it (the same Idempotency-Key records once)")
async def record_screening(person_id: UUID, body: RecordScreeningRequest, principal: CurrentPrincipal,
                           commands: Commands,
                           provenance: RequestProvenance, response: Response,
                           idempotency_key: IdempotencyKey = None):
    return await _answer(commands.record_screening(principal, person_id, body, idempotency_key, provenance),
                         response)


@router.post("/{person_id}/crisis-contacts", status_code=status.HTTP_201_CREATED,
             response_model=CrisisContactRecorded,
             summary="Record a crisis contact and when the team must follow up (same Idempotency-Key: once)")
async def record_crisis_contact(person_id: UUID, body: RecordCrisisContactRequest, principal: CurrentPrincipal,
                                commands: Commands,
                                provenance: RequestProvenance, response: Response,
                                idempotency_key: IdempotencyKey = None):
    return await _answer(
        commands.record_crisis_contact(principal, person_id, body, idempotency_key, provenance), response)


@router.post("/{person_id}/consents", status_code=status.HTTP_201_CREATED, response_model=ConsentRecorded,
             summary="Record the person's consent directive (same Idempotency-Key: once)")
async def grant_consent(person_id: UUID, body: GrantConsentRequest, principal: CurrentPrincipal, commands: Commands,
                        provenance: RequestProvenance, response: Response, idempotency_key: IdempotencyKey = None):
    return await _answer(commands.grant_consent(principal, person_id, body, idempotency_key, provenance), response)


@router.post("/{person_id}/consents/{directive_id}/revocation", status_code=status.HTTP_201_CREATED,
             response_model=ConsentRecorded, summary="Revoke a consent directive (200 if already revoked)")
async def revoke_consent(person_id: UUID, directive_id: str, body: RevokeConsentRequest,
                         principal: CurrentPrincipal, commands: Commands, provenance: RequestProvenance,
                         response: Response):
    return await _answer(commands.revoke_consent(principal, person_id, directive_id, body, provenance), response)


@router.post("/{survivor_id}/merges", status_code=status.HTTP_201_CREATED, response_model=PeopleMerged,
             summary="Merge a duplicate record of this person into this one, keeping both histories "
                     "(200 if already merged)")
async def merge_people(survivor_id: UUID, body: MergePeopleRequest, principal: CurrentPrincipal, commands: Commands,
                       provenance: RequestProvenance, response: Response):
    return await _answer(commands.merge_people(principal, survivor_id, body, provenance), response)


@router.post("/{survivor_id}/merges/{merge_id}/undo", status_code=status.HTTP_201_CREATED, response_model=MergeUndone,
             summary="Undo a wrong merge: both records stand alone again (200 if already undone)",
             description="Care coordinators and supervisors who see both records, with a reason. Intake splits "
                         "the records; careplan and notifications split what they joined (each entry back to its "
                         "record; what was added to the survivor after the merge stays with it).")
async def undo_merge(survivor_id: UUID, merge_id: UUID, body: UndoMergeRequest, principal: CurrentPrincipal,
                     commands: Commands, provenance: RequestProvenance, response: Response):
    return await _answer(commands.undo_merge(principal, survivor_id, merge_id, body, provenance), response)


@router.get("/{person_id}", response_model=PersonSummary)
async def get_person(person_id: UUID, principal: CurrentPrincipal, commands: Commands,
                     foundation: ServiceFoundation, application: Application, read: RecordedRead):
    async with read.of(person_id, "intake record"):
        try:
            await commands.authorize(principal, Right.READ_INTAKE_RECORD, person_id)
        except Refused as refused:
            refusal = HTTPException if refused.absent else RefusedRequest
            raise refusal(refused.status, refused.detail) from None
        person = await foundation.run_sync(application.get_person, person_id)
        return PersonSummary(
            person_id=person.id, agency=person.agency, agency_person_id=person.agency_person_id,
            preferred_name=person.preferred_name, pronouns=person.pronouns,
            preferred_language=person.preferred_language, date_of_birth=person.date_of_birth,
            screenings=len(person.screenings),
            agency_identities=[AgencyIdentity(agency=agency, agency_person_id=record)
                               for agency, record in person.agency_identities],
            merged_duplicates=list(person.merged_duplicates), merged_into=person.merged_into,
            merge_history=[MergeEventView(**entry) for entry in await foundation.run_sync(
                application.merge_history, person_id)],
        )

