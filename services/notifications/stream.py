"""The live stream: each connected caller's follower of notifications' event log.

A stream is a position in the notification log, not a buffer. It reads the `NotificationDue`
events after its position (filtered by topic in SQL, a page at a time), decides for each at the
moment it is sent whether the caller may be sent it (`NotificationsApplication.refusals`: the
team as it is now, the person's consent directives as they are now), and yields those that pass,
each named by its log position. A client that reconnects with the last position it was given
resumes from the store: a restart of the service loses nothing and repeats nothing, because the
positions are durable and totally ordered (eventsourcing commits notification ids in order).

What a stream sends about a person is recorded as a read of their record before it is sent, a
batch at a time (`follow`'s `record_reads`, stream_reads.py); a batch that cannot be recorded is
not sent.

Every stream of the service is woken by the service's LISTEN/NOTIFY listener (this object is one
of its log followers) when a commit names the topic; a bounded poll is the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from services.notifications.application import NotificationsApplication
from services.notifications.domain.disclosure import OUTSIDE_RECIPIENT_KINDS
from services.notifications.domain.notifications import PersonNotifications
from shared.access import STAFF, Principal, Role
from shared.access_recording import AccessNotRecorded
from shared.hop_marks import mark, marking
from shared.log_reading import LogReader
from shared.relay import RunSync
from shared.topics import recorded_as, stored_topics

NOTICE_TOPICS = [topic for recorded in recorded_as(PersonNotifications, PersonNotifications.NotificationDue)
                 for topic in stored_topics(recorded)]

# Records what a stream is about to send as reads of the people it names (stream_reads.py:
# StreamReads.record); raises, and then nothing of it is sent, when they cannot be recorded.
RecordReads = Callable[[Sequence["StreamedNotice"]], Awaitable[object]]


def may_follow(role: Role) -> bool:
    """Whether a role may be sent notices at all (see domain/disclosure.py): staff, support persons
    and outside agencies; anyone else is refused when they connect."""
    return role in STAFF or role in OUTSIDE_RECIPIENT_KINDS


@dataclass(frozen=True)
class StreamedNotice:
    """One notice as the stream sends it: its log position (the SSE id) and a thin document.

    Thin on purpose: ids, kind, flags and times, and where to read more (a path on the named
    service), never the notice's sentence: an app shows its own words for a kind, and a
    support person follows the link to what the person shares with them."""

    position: int
    person_id: UUID
    category: str
    document: dict[str, Any]

    def for_recipient(self, recipient: Principal) -> dict[str, Any]:
        person = self.document["person_id"]
        links = ({"notifications": f"/people/{person}/notifications"} if recipient.role in STAFF
                 else {"careplan": f"/people/{person}/shared"})
        return {**self.document, "links": links}


def streamed(position: int, due: Any) -> StreamedNotice:
    """The thin document of a decoded `NotificationDue` event at `position`."""
    person_id = UUID(due.upstream.person_id)
    return StreamedNotice(position, person_id, due.category, {
        "notification_id": due.upstream.event_id,
        "kind": due.kind,
        "urgent": due.urgent,
        "audience": due.audience,
        "category": due.category,
        "person_id": str(person_id),
        "due_at": due.due_at.isoformat(),
        "recorded_at": due.timestamp.isoformat(),
    })


class BeyondTheLog(ValueError):
    """A resume position past the end of the log: not one this service ever sent."""


class NoticeStreams:
    """Every live stream of the service: a `LogTailer` (shared/runtime.py) that only wakes them."""

    name = "notifications-streams"
    kind = "stream"
    wakes_for = frozenset(NOTICE_TOPICS)

    def __init__(self, application: NotificationsApplication, run_sync: RunSync, reader: LogReader, *,
                 page_size: int = 200, poll_seconds: float = 2.0, heartbeat_seconds: float = 15.0,
                 send_timeout_seconds: float = 30.0, decision_max_age_seconds: float = 0.5,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.heartbeat_seconds = heartbeat_seconds  # a comment, so that proxies keep the connection
        self.send_timeout_seconds = send_timeout_seconds  # a client that stops reading is let go
        self._application = application
        self._run_sync = run_sync
        self._reader = reader
        self._page_size = page_size
        self._poll_seconds = poll_seconds
        # A decision is redone for what is still unsent when sending has taken longer than this
        # (a slow client): a revocation must not wait behind a page decided before it.
        self._decision_max_age = decision_max_age_seconds
        self._clock = clock
        self._waiting: set[asyncio.Event] = set()

    # -- as a log follower of the service -----------------------------------------------------------

    async def run(self) -> None:
        """Nothing to do but be woken; closes the log reader when the service stops."""
        try:
            await asyncio.Event().wait()
        finally:
            await self._reader.close()

    def wake(self, topics: frozenset[str] | None = None) -> None:
        if topics is None or not self.wakes_for.isdisjoint(topics):
            for news in self._waiting:
                news.set()

    @contextlib.contextmanager
    def _news(self) -> Iterator[asyncio.Event]:
        news = asyncio.Event()
        self._waiting.add(news)
        try:
            yield news
        finally:
            self._waiting.discard(news)

    # -- one stream ----------------------------------------------------------------------------------

    async def start_position(self, last_event_id: int | None) -> int:
        """Where a stream starts: after `last_event_id` when resuming, else at the log's end (a new
        stream carries what is recorded from now on; what is due already is on GET .../notifications)."""
        end = await self._run_sync(self._application.recorder.max_notification_id) or 0
        if last_event_id is None:
            return end
        if last_event_id > end:
            raise BeyondTheLog(f"{last_event_id} is past the end of the notification log ({end})")
        return last_event_id

    async def follow(self, recipient: Principal, after: int, *, record_reads: RecordReads, until: float | None = None,
                     purpose: str = "TREAT") -> AsyncIterator[tuple[StreamedNotice, dict[str, Any]]]:
        """The notices recorded after `after` that `recipient` may be sent, each decided as it
        leaves, until `until` (seconds since the epoch: when the caller's token expires; the client
        reconnects with a fresh one) or the client goes. What is about to be sent is first recorded
        as reads of each person's record by `record_reads` (stream_reads.py), a batch at a time; if
        that raises, nothing of the batch is sent and the exception ends the stream. To a support
        person or an outside agency each notice is also a disclosure, recorded (with `purpose`)
        before it is sent; one that cannot be recorded is not sent and ends the stream the same way."""
        with self._news() as news:
            position = after
            while (left := math.inf if until is None else until - self._clock().timestamp()) > 0:
                news.clear()  # before reading: news during the read belongs to the next one
                notifications, read_to = await self._reader.read(position, self._page_size, NOTICE_TOPICS)
                if notifications:
                    # Decoded and decided in one hop to the pool (each hop wakes a thread and
                    # contends for the GIL: at 100 notices/s, pages hold one or two).
                    decided_at, read_at = asyncio.get_running_loop().time(), time.time()
                    notices, refusals = await self._run_sync(self._decode_and_decide, recipient, notifications)
                    if marking():
                        for notice in notices:
                            if notice.document["urgent"]:
                                mark("stream read", notice.person_id, read_at)
                                mark("stream decided", notice.person_id)
                    async for sent in self._send(recipient, notices, (decided_at, refusals), purpose,
                                                 record_reads):
                        yield sent
                position = read_to
                if len(notifications) < self._page_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(news.wait(), timeout=min(self._poll_seconds, left))

    async def _send(self, recipient: Principal, notices: Sequence[StreamedNotice],
                    decided: tuple[float, list[str | None]], purpose: str, record_reads: RecordReads
                    ) -> AsyncIterator[tuple[StreamedNotice, dict[str, Any]]]:
        """Send what `recipient` may be sent of `notices`, given the decisions taken at a time (by
        the loop's clock); what is still unsent once they are too old is decided again. Each
        decision's notices are recorded as reads before the first of them is sent."""
        loop = asyncio.get_running_loop()
        pending = list(notices)
        decided_at: float | None = decided[0]
        refusals = decided[1]
        recorded: set[int] = set()  # positions whose read is recorded: a batch decided again is not recorded twice
        while pending:
            if decided_at is None:
                decided_at = loop.time()
                refusals = await self._run_sync(self._refusals, recipient, pending)
            to_send = [notice for notice, refusal in zip(pending, refusals, strict=True)
                       if refusal is None and notice.position not in recorded]
            await record_reads(to_send)
            if marking():
                for notice in to_send:
                    if notice.document["urgent"]:
                        mark("stream recorded", notice.person_id)
            recorded.update(notice.position for notice in to_send)
            for index, (notice, refusal) in enumerate(zip(pending, refusals, strict=True)):
                # The first notice after a decision always goes: were recording or deciding slower
                # than the limit, deciding again before it would never end.
                if index > 0 and loop.time() - decided_at > self._decision_max_age:
                    pending, decided_at = pending[index:], None
                    break
                if refusal is None:
                    if recipient.role not in STAFF:  # outside the treating team: accounted for first
                        await self._account_for(recipient, notice, purpose)
                    yield notice, notice.for_recipient(recipient)
            else:
                pending = []

    async def _account_for(self, recipient: Principal, notice: StreamedNotice, purpose: str) -> None:
        """Record the disclosure of `notice` to someone outside the treating team; a disclosure
        that cannot be recorded is not made, and ends the stream as an unrecorded read does."""
        try:
            await self._run_sync(self._application.record_streamed_disclosure, recipient, notice.person_id,
                                 notice.document["kind"], notice.category, purpose, self._clock())
        except Exception as error:
            raise AccessNotRecorded(f"the disclosure could not be recorded: {type(error).__name__}") from error

    def _decode_and_decide(self, recipient: Principal, notifications: Sequence[Notification]
                           ) -> tuple[list[StreamedNotice], list[str | None]]:
        to_domain_event = self._application.mapper.to_domain_event
        notices = [streamed(notification.id, to_domain_event(notification)) for notification in notifications]
        return notices, self._refusals(recipient, notices)

    def _refusals(self, recipient: Principal, notices: Sequence[StreamedNotice]) -> list[str | None]:
        return self._application.refusals(recipient, [(notice.person_id, notice.category) for notice in notices],
                                          self._clock())
