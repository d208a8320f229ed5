"""HTTP for the accounting of disclosures, the same in every service that discloses (careplan,
notifications): the `X-Purpose-Of-Use` header a disclosing request states its purpose in, and
`GET /audit/people/{person_id}/disclosures`, this service's part of a person's accounting.

Who may read an accounting: an auditor (anyone's), and the person (their own). Everyone else:
403 when their role cannot read accountings at all, 404 for a person who is not theirs to ask about.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field

from shared.access import MissingRight, NotVisible, RecordContext, Right, check_has_right, check_may_see
from shared.disclosures import (
    HIPAA_WINDOW_YEARS, PART_2_WINDOW_YEARS, PURPOSES_OF_USE, Disclosure, DisclosureLedger, accounting, from_event)
from shared.http import CurrentPrincipal, RefusedRequest
from shared.recorded_reads import RecordedRead

class RecipientView(BaseModel):
    kind: str = Field(description="named_person (family, a natural support) or outside_agency")
    id: str | None = Field(description="who: the person's user id, or the agency")
    agency: str | None = None
    address: str | None = Field(None, description="where it went, when known (a webhook receiver's host)")


class DisclosureView(BaseModel):
    disclosure_id: str
    service: str = Field(description="the service that disclosed it")
    disclosed_at: datetime
    recipient: RecipientView
    channel: str = Field(description="shared_record (read through /shared), webhook (a delivered notice) or stream "
                                             "(a notice sent on the live stream)")
    categories: list[str] = Field(description="the consent categories disclosed")
    parts: list[str] = Field(description="what was disclosed, by name (never its content)")
    description: str
    purpose: str = Field(description="HL7 PurposeOfUse code")
    purpose_display: str
    consent_directives: list[str] = Field(description="the person's consent directives that allowed it")
    rule: str = Field(description="whose accounting window applies: 42 CFR 2.25 (substance use) or 45 CFR 164.528")


class DisclosureAccounting(BaseModel):
    person_id: UUID
    service: str
    generated_at: datetime
    since: date | None
    windows: dict[str, int] = Field(description="years listed under each rule")
    disclosures: list[DisclosureView]


def disclosure_view(disclosure: Disclosure, service: str) -> DisclosureView:
    return DisclosureView(
        disclosure_id=disclosure.disclosure_id, service=service, disclosed_at=disclosure.disclosed_at,
        recipient=RecipientView(kind=disclosure.recipient_kind, id=disclosure.recipient_id,
                                agency=disclosure.recipient_agency, address=disclosure.recipient_address),
        channel=disclosure.channel, categories=list(disclosure.categories), parts=list(disclosure.parts),
        description=disclosure.description, purpose=disclosure.purpose,
        purpose_display=PURPOSES_OF_USE.get(disclosure.purpose, disclosure.purpose),
        consent_directives=list(disclosure.consent_directives), rule=disclosure.rule)


def check_may_read_accounting(principal: Any, person_id: UUID) -> None:
    try:
        check_has_right(principal, Right.READ_DISCLOSURES)
        check_may_see(principal, RecordContext(person_id, frozenset()))  # the auditor, or the person
    except MissingRight as refusal:
        raise RefusedRequest(status.HTTP_403_FORBIDDEN, str(refusal)) from None
    except NotVisible:
        raise RefusedRequest(status.HTTP_404_NOT_FOUND, "not found") from None


def recorded_disclosures(application: Any, person_id: UUID) -> list[Disclosure]:
    """Every disclosure the person's ledger in this service's store records (one query)."""
    return [from_event(disclosed) for disclosed in application.read_events(
        DisclosureLedger.create_id(person_id), [DisclosureLedger.Disclosed])]


def disclosures_router(service: str,
                       disclosures: Callable[[Any, UUID], list[Disclosure]] = recorded_disclosures) -> APIRouter:
    """The route serving this service's part: `disclosures(application, person_id)` reads them."""
    router = APIRouter(prefix="/audit/people", tags=["audit"])

    @router.get("/{person_id}/disclosures", response_model=DisclosureAccounting,
                summary="This service's part of a person's accounting of disclosures (auditor, or the person)")
    async def accounting_of_disclosures(
            person_id: UUID, principal: CurrentPrincipal, request: Request, read: RecordedRead,
            since: Annotated[date | None, Query(description="only disclosures on or after this day")] = None,
    ) -> DisclosureAccounting:
        """Every disclosure of the person's information outside the treating team that this
        service made: to family and natural supports and to outside agencies, by consent. Each
        is listed for 6 years (HIPAA, 45 CFR 164.528), or 3 when it disclosed substance-use
        information (42 CFR 2.25); `since` narrows. The treating team's own reads and
        notices are not disclosures and are never listed."""
        async with read.of(person_id, "accounting of disclosures"):
            check_may_read_accounting(principal, person_id)
            foundation = request.app.state.foundation
            now = datetime.now(timezone.utc)
            found = await foundation.run_sync(disclosures, foundation.application, person_id)
            return DisclosureAccounting(
                person_id=person_id, service=service, generated_at=now, since=since,
                windows={"45 CFR 164.528": HIPAA_WINDOW_YEARS, "42 CFR 2.25": PART_2_WINDOW_YEARS},
                disclosures=[disclosure_view(d, service) for d in accounting(found, now, since)])

    return router
