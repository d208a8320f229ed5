"""`GET /audit/people/{person_id}/history`: this service's part of a person's history, every event
about them it stores, decrypted, by position, a page at a time.

Each service serves its own part from its own store (the person index, shared/person_index.py);
`carecoord audit history` merges the three. Auditors read anyone's; the person reads their own,
without what the agency marks staff-internal (shared/person_history.py: as_seen_by_person).
Everyone else is refused for their role (403), before anything is looked up.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from shared.access import Principal, RecordContext, Right, Role
from shared.http import CurrentPrincipal, authorize_request
from shared.person_history import as_seen_by_person, history_line_of
from shared.person_index import HistoryFilter
from shared.recorded_reads import RecordedRead
from shared.runtime import Foundation

MAX_PAGE = 1000


class CausedBy(BaseModel):
    source: str = Field(description="The service that recorded the cause")
    position: int = Field(description="The cause's position in that service's log (0: not a stored event)")
    event_id: str
    type: str


class HistoryLine(BaseModel):
    occurred_at: AwareDatetime
    service: str
    position: int = Field(description="The event's position in this service's log")
    type: str = Field(description="The event's class, e.g. Person.ScreeningCompleted")
    event_id: str = Field(description="As published (the envelope's event_id), for events that are published")
    aggregate_id: str
    aggregate_version: int
    person_id: str | None
    actor_id: str | None = Field(description="Who did it; for the person reading their own, null for staff")
    actor_role: str = Field(description="The actor's role; `service` for what a service did by itself")
    correlation_id: str | None
    causation_id: str | None
    caused_by: CausedBy | None = Field(description="The upstream event this one applies, if any")
    data: dict[str, Any] = Field(description="The event's own fields, decrypted")


class HistoryPage(BaseModel):
    person_id: UUID
    service: str
    items: list[HistoryLine]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end")


router = APIRouter(prefix="/audit/people", tags=["audit"])


def read_page(foundation: Foundation, principal: Principal, query: HistoryFilter) -> HistoryPage:
    application: Any = foundation.application
    settings = foundation.settings
    service = settings.service_name
    rows = application.person_history(query)
    items = []
    for position, occurred_at, originator_id, version, topic, plaintext in rows:
        line: dict[str, Any] | None = history_line_of(service, position, occurred_at, originator_id, version, topic,
                                                      plaintext, query.person_id)
        if line is not None and principal.role is Role.PERSON:
            line = as_seen_by_person(line, query.person_id, settings.history_internal_types,
                                     settings.history_internal_fields)
        if line is not None:
            items.append(HistoryLine.model_validate(line))
    next_cursor = str(rows[-1][0]) if len(rows) == query.limit else None
    return HistoryPage(person_id=query.person_id, service=service, items=items, next_cursor=next_cursor)


@router.get("/{person_id}/history", response_model=HistoryPage,
            summary="This service's part of a person's history (auditors; the person, their own)")
async def get_history(
    request: Request,
    person_id: UUID,
    principal: CurrentPrincipal,
    read: RecordedRead,
    cursor: Annotated[str | None, Query(description="Opaque: `next_cursor` of the previous page",
                                        pattern=r"^[0-9]{1,19}$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    since: Annotated[AwareDatetime | None, Query(description="Events at or after this time")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Events before this time")] = None,
    types: Annotated[list[str] | None, Query(alias="type", description="Only these event types "
                                                                       "(repeatable): `Person.X` or `X`")] = None,
) -> HistoryPage:
    async with read.of(person_id, "audit history"):
        authorize_request(principal, Right.READ_AUDIT_HISTORY, RecordContext(person_id, team=frozenset()))
        foundation: Foundation = request.app.state.foundation
        query = HistoryFilter(person_id, int(cursor or 0), since, until, tuple(types or ()), limit)
        return await foundation.run_sync(read_page, foundation, principal, query)
