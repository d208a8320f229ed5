"""Intake's HTTP API: validate, make one application call, map its errors."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4, uuid5

from fastapi import APIRouter, Depends, Header, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from services.intake.application import (
    Command,
    RecordCrisisContact,
    IntakeApplication,
    PersonNotFound,
    RecordScreening,
    RegisterPerson,
    Result,
)
from shared.group_commit import GroupCommit
from services.intake.domain.crisis import InvalidCrisisContact
from services.intake.domain.scoring import InvalidAnswers
from shared.access import NotVisible, Principal, Right, Role, authorize
from shared.contracts.intake import CrisisKind, CrisisOutcome, Instrument
from shared.http import RequestProvenance, log_read, not_found_for, requires
from shared.runtime import Service

SCREENING_NAMESPACE = UUID("8e3f4b0a-2d6c-4f57-b1c9-0a7e5d3c2b14")
CRISIS_CONTACT_NAMESPACE = UUID("5a1e9c7d-7b2f-4e0a-9c3d-1f8e6b4a2c90")


class RegisterPersonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: str = Field(min_length=1, max_length=100, description="The registering agency's id")
    agency_person_id: str = Field(min_length=1, max_length=100, description="The person's id at that agency")
    preferred_name: str = Field(min_length=1, max_length=200)
    date_of_birth: date | None = None


class PersonRegistration(BaseModel):
    person_id: UUID


class RecordScreeningRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instrument: Instrument
    answers: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$", description="Item id, e.g. item9")],
        StrictInt | StrictBool | Literal["declined"],
    ] = Field(min_length=1, max_length=40, description='Item id to answer; "declined" when not answered.')
    sex: Literal["male", "female", "other"] | None = Field(
        None, description="Used only by AUDIT-C's cutoff; leave out when unknown (the cautious cutoff applies)")


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


class RecordCrisisContactRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: CrisisKind
    occurred_at: datetime = Field(description="With a time zone")
    location: str = Field(max_length=300)
    responders: list[Annotated[str, Field(max_length=200)]] = Field(max_length=20)
    what_helped: str = Field("", max_length=4000, description="What helped, e.g. the de-escalation used")
    outcome: CrisisOutcome
    follow_up_due: datetime | None = Field(
        None, description="Default: 24 hours after a crisis contact, 7 days after a hospital discharge")


class CrisisContactRecorded(BaseModel):
    person_id: UUID
    contact_id: UUID
    follow_up_due: datetime


class PersonSummary(BaseModel):
    person_id: UUID
    agency: str
    agency_person_id: str
    preferred_name: str
    screenings: int


def _unprocessable(invalid: InvalidAnswers) -> HTTPException:
    """The same shape as FastAPI's own 422s, naming the field the scoring rules refused."""
    loc = ["body", invalid.item] if invalid.item in ("instrument", "sex") else ["body", "answers", invalid.item]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         [{"loc": loc, "msg": invalid.message, "type": "value_error"}])


def people_router(service: Service, application: IntakeApplication) -> APIRouter:
    router = APIRouter(prefix="/people", tags=["people"])
    commands: GroupCommit[Command, Result] = GroupCommit(service.run_sync, application.execute_batch)

    async def authorized(principal: Principal, right: Right, person_id: UUID) -> None:
        try:
            record = await service.run_sync(application.record_context, person_id)
            authorize(principal, right, record)
        except (PersonNotFound, NotVisible) as error:
            raise not_found_for(error) from None

    @router.post("", status_code=status.HTTP_201_CREATED, response_model=PersonRegistration,
                 summary="Register a person (200 with the same id if already registered)")
    async def register_person(
        body: RegisterPersonRequest, provenance: RequestProvenance, response: Response,
        principal: Annotated[Principal, Depends(requires(Right.REGISTER_PERSON))],
    ):
        if principal.role is Role.AGENCY_SYSTEM and body.agency != principal.agency:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "an agency system registers people for its own agency only")
        registration = await commands.submit(RegisterPerson(
            body.agency, body.agency_person_id, body.preferred_name, body.date_of_birth, provenance,
        ))
        if not registration.created:
            response.status_code = status.HTTP_200_OK
        return PersonRegistration(person_id=registration.person_id)

    @router.post("/{person_id}/screenings", status_code=status.HTTP_201_CREATED, response_model=ScreeningRecorded,
                 summary="Record a screening's answers (the same Idempotency-Key records once)")
    async def record_screening(
        person_id: UUID,
        body: RecordScreeningRequest,
        provenance: RequestProvenance,
        response: Response,
        principal: Annotated[Principal, Depends(requires(Right.RECORD_SCREENING))],
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ):
        await authorized(principal, Right.RECORD_SCREENING, person_id)
        screening_id = uuid5(SCREENING_NAMESPACE, f"{person_id}/{idempotency_key}") if idempotency_key else uuid4()
        answers = {item: None if answer == "declined" else answer for item, answer in body.answers.items()}
        try:
            receipt = await commands.submit(
                RecordScreening(person_id, screening_id, body.instrument, answers, provenance, body.sex)
            )
        except PersonNotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not found") from None
        except InvalidAnswers as invalid:
            raise _unprocessable(invalid) from None
        if not receipt.created:
            response.status_code = status.HTTP_200_OK
        result = receipt.result
        return ScreeningRecorded(
            person_id=person_id, screening_id=receipt.screening_id,
            result=None if result is None else ScreeningResultView(
                instrument=result.instrument, domain=result.domain, total=result.total, band=result.band,
                positive=result.positive, flags=list(result.flags), complete=result.complete, urgent=result.urgent,
            ),
        )

    @router.post("/{person_id}/crisis-contacts", status_code=status.HTTP_201_CREATED,
                 response_model=CrisisContactRecorded,
                 summary="Record a crisis contact and when the team must follow up (same Idempotency-Key: once)")
    async def record_crisis_contact(
        person_id: UUID,
        body: RecordCrisisContactRequest,
        provenance: RequestProvenance,
        response: Response,
        principal: Annotated[Principal, Depends(requires(Right.RECORD_CRISIS_CONTACT))],
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ):
        await authorized(principal, Right.RECORD_CRISIS_CONTACT, person_id)
        contact_id = uuid5(CRISIS_CONTACT_NAMESPACE, f"{person_id}/{idempotency_key}") if idempotency_key else uuid4()
        try:
            receipt = await commands.submit(RecordCrisisContact(
                person_id, contact_id, body.kind, body.occurred_at, body.location, body.responders,
                body.what_helped, body.outcome, body.follow_up_due, provenance,
            ))
        except InvalidCrisisContact as invalid:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                [{"loc": ["body", invalid.field], "msg": invalid.message, "type": "value_error"}]) from None
        if not receipt.created:
            response.status_code = status.HTTP_200_OK
        return CrisisContactRecorded(person_id=person_id, contact_id=contact_id, follow_up_due=receipt.follow_up_due)

    @router.get("/{person_id}", response_model=PersonSummary)
    async def get_person(person_id: UUID, principal: Annotated[Principal, Depends(requires(Right.READ_INTAKE_RECORD))]):
        await authorized(principal, Right.READ_INTAKE_RECORD, person_id)
        log_read(principal, person_id, "intake record")
        person = await service.run_sync(application.get_person, person_id)
        return PersonSummary(
            person_id=person.id, agency=person.agency, agency_person_id=person.agency_person_id,
            preferred_name=person.preferred_name, screenings=len(person.screenings),
        )

    return router
