"""Every read of a person's record through the HTTP APIs, recorded before it is answered.

An endpoint that reads a person's record takes a `RecordedRead` and does its work inside
`read.of(person_id, "care plan")`:

    async def get_plan(person_id: UUID, principal: CurrentPrincipal, read: RecordedRead, ...):
        async with read.of(person_id, "care plan"):
            await authorized(principal, Right.READ_CARE_PLAN, person_id)
            return await plans.view(person_id)

When the block ends, the access is recorded in the service's store (shared/access_recording.py)
with what the reader is about to be answered: allowed (the block returned), refused with 403 or
404 (a `RefusedRequest`: the access rules said no), or not found (any other 404). Only then does
the endpoint return, and FastAPI serialize and send the body. If the record cannot be committed
the reader gets 503 and nothing of the record; a refusal that cannot be recorded is a 503 too. A
block that has not finished within READ_TIMEOUT (the store does not answer) is a 503 as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated
from uuid import UUID

from eventsourcing.persistence import PersistenceError
from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError

from shared.access import Principal
from shared.access_recording import AccessNotRecorded, AccessRecorder
from shared.access_records import Access, Outcome, page_accesses
from shared.disclosures import DEFAULT_PURPOSE, PURPOSE_HEADER, PURPOSES_OF_USE, UnknownPurpose, purpose_of_use
from shared.domain import Provenance
from shared.http import CurrentPrincipal, RefusedRequest, RequestProvenance, audit_log

# How long the reading itself may take (before its record is written): 503 after.
DEFAULT_READ_TIMEOUT = 10.0

async def stated_purpose(x_purpose_of_use: Annotated[str | None, Header(
        description="Why the caller asks, recorded with the read (and with a disclosure): an HL7 v3 PurposeOfUse "
                    "code (" + ", ".join(PURPOSES_OF_USE) + "); " + DEFAULT_PURPOSE + " when absent; any other "
                    "value is refused (422 naming the header).")] = None) -> str:
    try:
        return purpose_of_use(x_purpose_of_use)
    except UnknownPurpose as refusal:
        raise RequestValidationError([{"type": "value_error", "loc": ("header", PURPOSE_HEADER),
                                       "input": x_purpose_of_use, "msg": f"Value error, {refusal}"}]) from None


StatedPurpose = Annotated[str, Depends(stated_purpose)]


class ReadRecording:
    """The reads one request makes of person records; see the module's doc."""

    def __init__(self, recorder: AccessRecorder, principal: Principal, provenance: Provenance,
                 purpose: str, route: str, read_timeout: float = DEFAULT_READ_TIMEOUT) -> None:
        self._recorder = recorder
        self._read_timeout = read_timeout
        self._principal = principal
        self._provenance = provenance
        self._purpose = purpose
        self._route = route

    @asynccontextmanager
    async def of(self, person_id: UUID, resource: str) -> AsyncIterator[None]:
        """Record the read of `resource` (a stable name) of this person's record when the block
        ends, with its outcome; 503 instead of the answer if it cannot be recorded."""
        try:
            # Bounded: a database that stops answering (no refusal, no error: a host gone) would
            # otherwise hold the reader as long as the connect timeout and eventsourcing's retries
            # allow, minutes, or a query on an open connection forever. The thread keeps waiting;
            # the reader is answered.
            async with asyncio.timeout(self._read_timeout):
                yield
        except TimeoutError:
            audit_log.error("record not read: the store did not answer in time", extra={
                "reader": self._principal.subject, "person_id": str(person_id), "record": resource,
                "timeout_seconds": self._read_timeout})
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                                f"the record store did not answer within {self._read_timeout} s, so nothing is "
                                "answered; try again later") from None
        except HTTPException as refusal:
            outcome = _outcome_of(refusal)
            if outcome is not None:
                await self._record(person_id, resource, outcome, refusal.status_code)
            raise
        except (PersistenceError, OSError) as error:  # eventsourcing's store, or a read model's connection
            # The store failed before anything was read: nothing to answer, and nowhere to record.
            audit_log.error("record not read: the store is unavailable", extra={
                "reader": self._principal.subject, "person_id": str(person_id), "record": resource,
                "error_type": type(error).__name__})
            raise _unavailable() from None
        await self._record(person_id, resource, Outcome.ALLOWED, status.HTTP_200_OK)

    async def of_page(self, resource: str, items: Sequence[tuple[UUID, str]]) -> None:
        """Record a page about several people that is about to be answered (a subscription's
        deliveries, say): one record per person, its `items` naming what of the page concerned
        them (`(person, "<number>:<kind>")` pairs), all committed together; 503 if they cannot be."""
        accesses = page_accesses(self._principal, self._provenance, self._purpose, self._route, resource, items)
        try:
            await self._recorder.record_all(accesses)
        except AccessNotRecorded:
            raise _unavailable() from None
        audit_log.info("records read", extra={
            "reader": self._principal.subject, "reader_role": self._principal.role.value, "record": resource,
            "people": len(accesses), "items": len(items), "purpose_of_use": self._purpose})

    async def _record(self, person_id: UUID, resource: str, outcome: Outcome, status_code: int) -> None:
        access = Access(person_id=person_id, resource=resource, route=self._route, outcome=outcome,
                        status=status_code, purpose=self._purpose, provenance=self._provenance,
                        reader_agency=self._principal.agency, reader_app=self._principal.app)
        try:
            record_id = await self._recorder.record(access)
        except AccessNotRecorded:
            raise _unavailable() from None
        # Ids and codes only, never what was read (HIPAA audit controls; the record is the store's).
        audit_log.info("record read", extra={
            "access_record_id": str(record_id), "reader": self._principal.subject,
            "reader_role": self._principal.role.value, "person_id": str(person_id), "record": resource,
            "outcome": outcome.value, "purpose_of_use": self._purpose})


def _unavailable() -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                         "this read could not be recorded (the record store is unavailable), so it is not answered; "
                         "try again later")


def _outcome_of(refusal: HTTPException) -> Outcome | None:
    if refusal.status_code == status.HTTP_403_FORBIDDEN:
        return Outcome.REFUSED_403
    if refusal.status_code == status.HTTP_404_NOT_FOUND:
        return Outcome.REFUSED_404 if isinstance(refusal, RefusedRequest) else Outcome.NOT_FOUND
    return None  # anything else (a 422 on a query parameter, say) read nothing of the record


async def recorded_read(
    request: Request, principal: CurrentPrincipal, provenance: RequestProvenance,
    purpose: StatedPurpose,
) -> ReadRecording:
    route = request.scope.get("route")
    return ReadRecording(request.app.state.access_recorder, principal, provenance, purpose,
                         getattr(route, "path", request.url.path),
                         getattr(request.app.state, "read_timeout", DEFAULT_READ_TIMEOUT))


RecordedRead = Annotated[ReadRecording, Depends(recorded_read)]
