"""`GET /stream`: the caller's live stream of notices, as Server-Sent Events (sse-starlette).

Each notice is an event `notification_due` whose `id:` is its position in notifications' event
log; heartbeats are comments without an id, so they never move a client's position. A client
that reconnects with `Last-Event-ID` resumes after that position, read from the event store.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent

from services.notifications.deps import Streams, TokenExpiry
from services.notifications.stream import BeyondTheLog, may_follow
from services.notifications.stream_reads import StreamReads
from shared.access import Principal
from shared.access_recording import AccessNotRecorded
from shared.recorded_reads import stated_purpose
from shared.http import CurrentPrincipal, RequestProvenance, audit_log
from shared.http_errors import ErrorBody
from shared.log_reading import NO_STOP

LAST_EVENT_ID = "Last-Event-ID"
EVENT_NAME = "notification_due"

router = APIRouter(tags=["notifications"])


@router.get(
    "/stream",
    summary="The caller's live stream of notices (Server-Sent Events)",
    response_class=EventSourceResponse,
    responses={
        200: {"description": f"An endless `text/event-stream`: events `{EVENT_NAME}` whose `id` is the "
                             "notice's position in the notification log and whose `data` is JSON "
                             "(notification_id, kind, urgent, audience, category, person_id, due_at, "
                             "recorded_at, links); comments are heartbeats",
              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        403: {"model": ErrorBody, "description": "The caller's role is not sent care notifications"},
        422: {"model": ErrorBody, "description": "Last-Event-ID is not a position this service gave"},
    },
)
async def stream_notices(
    request: Request, principal: CurrentPrincipal, streams: Streams, token_expires: TokenExpiry,
    provenance: RequestProvenance, purpose: Annotated[str, Depends(stated_purpose)],
    last_event_id: Annotated[int | None, Header(
        alias=LAST_EVENT_ID, ge=0, le=NO_STOP,
        description="Resume after this position (the `id` of the last event received; 0: from the "
                    "start of the log). Without it the stream starts at the log's end.")] = None,
) -> EventSourceResponse:
    """Notices about the people the caller may be sent them for, decided as each is sent: staff
    on the person's care team now; support persons and outside agencies while a consent
    directive of the person shares the notice's category with them. What is sent about a person
    is recorded as a read of their record first (one record per person per batch, naming the
    events); if it cannot be recorded the stream ends before that batch, and a reconnect with
    the last id resumes there."""
    if not may_follow(principal.role):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"a {principal.role.value.replace('_', ' ')} is not sent care notifications")
    try:
        after = await streams.start_position(last_event_id)
    except BeyondTheLog as error:
        raise RequestValidationError([{"type": "value_error", "loc": ("header", LAST_EVENT_ID),
                                       "input": last_event_id, "msg": f"Value error, {error}"}]) from None
    audit_log.info("notice stream opened", extra={"reader": principal.subject, "reader_role": principal.role.value,
                                                   "after": after})
    # The stream is answered on the caller's token, so it ends when the token expires.
    reads = StreamReads(request.app.state.access_recorder, principal, provenance, purpose)
    return EventSourceResponse(_events(streams, principal, after, token_expires, purpose, reads),
                               ping=streams.heartbeat_seconds, send_timeout=streams.send_timeout_seconds)


async def _events(streams: Streams, principal: Principal, after: int, until: float,
                  purpose: str, reads: StreamReads) -> AsyncIterator[ServerSentEvent]:
    try:
        async for notice, document in streams.follow(principal, after, record_reads=reads.record, until=until,
                                                     purpose=purpose):
            # Each notice sent is a read of one person's record (recorded already): ids only.
            audit_log.info("notice streamed", extra={
                "reader": principal.subject, "reader_role": principal.role.value,
                "person_id": str(notice.person_id), "position": notice.position})
            yield ServerSentEvent(data=json.dumps(document, separators=(",", ":")), id=str(notice.position),
                                  event=EVENT_NAME)
    except AccessNotRecorded:
        # Ended, not kept open withholding: the client sees the end, reconnects with its last id
        # (an EventSource does so by itself) and the batch is decided and recorded again then.
        audit_log.error("notice stream ended: what it was about to send could not be recorded",
                        extra={"reader": principal.subject, "reader_role": principal.role.value})
