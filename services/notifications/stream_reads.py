"""What the live stream sends about people, recorded as reads of their records before it is sent.

A notice on `GET /stream` names a person and tells the caller something about them (that a crisis
follow-up is due, that a screening was positive), so it is a read of that person's record like any
GET. Recording one access record per notice would double the writes of a busy stream; instead
each batch the stream is about to send (a page of the log, as decided for the caller) is recorded
as one `AccessRecord` per person, whose `items` name every event of that person in the batch
(`"<position>:<kind>"`, the position being the SSE `id` the client receives). The records of a
batch are committed together (`AccessRecorder.record_all`, one group-commit transaction) before the
first of its events is written to the connection. If they cannot be committed the stream ends
there (`AccessNotRecorded`): nothing of that batch is sent, and a client that reconnects with its
last id gets the batch decided and recorded again.

Only what is sent is recorded: a notice the caller may not be sent (another team's person, a
category no directive shares) is not a read (the caller asked about no one, and learns nothing),
and recording it would write a record per refused notice per open stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from services.notifications.stream import StreamedNotice
from shared.access import Principal
from shared.access_recording import AccessRecorder
from shared.access_records import page_accesses
from shared.domain import Provenance

STREAM_RESOURCE = "notice stream"
STREAM_ROUTE = "/stream"


class StreamReads:
    """The reads one open stream makes: who reads (the caller, their request's correlation id and
    trace) and why (the stream's `X-Purpose-Of-Use`)."""

    def __init__(self, recorder: AccessRecorder, reader: Principal, provenance: Provenance, purpose: str) -> None:
        self._recorder = recorder
        self._reader = reader
        self._provenance = provenance
        self._purpose = purpose

    async def record(self, notices: Sequence[StreamedNotice]) -> list[UUID]:
        """Record the batch about to be sent, one record per person; raises AccessNotRecorded."""
        if not notices:
            return []
        return await self._recorder.record_all(page_accesses(self._reader, self._provenance, self._purpose,
                                                             STREAM_ROUTE, STREAM_RESOURCE, stream_items(notices)))


def stream_items(notices: Sequence[StreamedNotice]) -> list[tuple[UUID, str]]:
    """Each event of the batch as its person and `<position>:<kind>`."""
    return [(notice.person_id, f"{notice.position}:{notice.document['kind']}") for notice in notices]
