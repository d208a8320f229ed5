"""The live stream's rules, on an application in memory: who may connect, what a resume position
may be, and that each notice is decided as it is sent (a member who left, a revoked directive).
The protocol itself, across a restart, is tested against a running service
(tests/integration/test_notice_stream.py)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from services.notifications import deps
from services.notifications.application import NotificationsApplication
from services.notifications.stream import NoticeStreams, StreamedNotice
from services.notifications.stream_reads import StreamReads
from shared.access_recording import AccessNotRecorded, AccessRecorder, recorded_accesses
from shared.domain import Provenance
from services.notifications.stream_http import router
from shared.access import Principal, Role
from shared.contracts.intake import ConsentGrantedV1, ConsentRevokedV1
from shared.following import UpstreamChange
from shared.log_reading import ThreadedLogReader
from shared.tokens import TokenSettings, TokenVerifier
from tests.support.system import TEST_JWT_SECRET, bearer
from tests.unit.conftest import IN_MEMORY
from tests.unit.test_following import NOW, upstream
from tests.unit.test_notifications_routes import RunsInline

CLINICIAN = Principal("casey", Role.CLINICIAN)
AUNT = Principal("aunt", Role.SUPPORT_PERSON)
POSITIONS = itertools.count(1)  # upstream positions are unique across people (they are tracked)


@pytest.fixture
def application() -> Iterator[NotificationsApplication]:
    in_memory = NotificationsApplication(env=IN_MEMORY)
    yield in_memory
    in_memory.close()


@pytest.fixture
def streams(application: NotificationsApplication) -> NoticeStreams:
    run_sync = RunsInline().run_sync
    # The clock is the notices' own time: consent directives below start at NOW.
    return NoticeStreams(application, run_sync, ThreadedLogReader(application.recorder, run_sync), page_size=3,
                         poll_seconds=0.01, clock=lambda: NOW + timedelta(minutes=5))


@pytest.fixture
def client(streams: NoticeStreams, application: NotificationsApplication) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(router)
    app.state.token_verifier = TokenVerifier(TokenSettings("carecoord", "carecoord-dev", dev_secret=TEST_JWT_SECRET))
    app.dependency_overrides[deps.notice_streams] = lambda: streams
    app.state.access_recorder = AccessRecorder(RunsInline().run_sync, application)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifications")


class Person:
    """One person's upstream events, in their sequence."""

    def __init__(self, application: NotificationsApplication) -> None:
        self.id = uuid4()
        self._application = application
        self._sequence = 0

    def _next(self):  # noqa: ANN202
        self._sequence += 1
        return upstream(self.id, self._sequence, position=next(POSITIONS))

    def joined(self, member: str, role: str = "clinician") -> None:
        ref = self._next()
        self._application.apply_change(UpstreamChange(ref, lambda f: f.team_member_joined(ref, member, role)))

    def left(self, member: str) -> None:
        ref = self._next()
        self._application.apply_change(UpstreamChange(ref, lambda f: f.team_member_left(ref, member)))

    def notice(self, kind: str, category: str = "crisis") -> str:
        ref = self._next()
        self._application.apply_change(self._application.team_notice(ref, kind, "A notice", NOW, category=category))
        return ref.event_id

    def consents(self, recipient: str, *categories: str) -> str:
        ref, directive = self._next(), str(uuid4())
        self._application.apply_change(self._application.consent_noted(ref, ConsentGrantedV1(
            directive_id=directive, recipient_kind="named_person", recipient_id=recipient,
            categories=list(categories), starts_at=NOW, expires_at=None)))
        return directive

    def revokes(self, directive: str) -> None:
        ref = self._next()
        self._application.apply_change(self._application.consent_revocation_noted(ref, ConsentRevokedV1(
            directive_id=directive, revoked_at=NOW + timedelta(minutes=1))))


async def noted(notices: Sequence[StreamedNotice]) -> None:
    """Stands for the recording of reads where a test is not about it (those below are)."""


async def received(stream: AsyncIterator, count: int) -> list[dict]:
    """The next `count` documents of a stream, within a bound."""
    async def take() -> list[dict]:
        return [document async for _, document in _first(stream, count)]
    return await asyncio.wait_for(take(), timeout=5)


async def _first(stream: AsyncIterator, count: int) -> AsyncIterator:
    for _ in range(count):
        yield await anext(stream)


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "", "99999999999999999999999999", "0x10"])
async def test_a_resume_position_that_is_not_a_position_is_refused_naming_the_header(client, value):
    async with client:
        response = await client.get("/stream", headers={**bearer("clinician", "casey"), "Last-Event-ID": value})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["header", "Last-Event-ID"]


async def test_a_resume_position_past_the_end_of_the_log_is_refused(client, application):
    Person(application).notice("crisis")
    async with client:
        response = await client.get("/stream", headers={**bearer("clinician", "casey"), "Last-Event-ID": "1000"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["header", "Last-Event-ID"]
    assert "past the end" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("role", ["auditor", "agency_system", "person"])
async def test_roles_that_are_never_sent_notices_are_refused_at_connect(client, role):
    async with client:
        response = await client.get("/stream", headers=bearer(role, person_id=str(uuid4())) if role == "person"
                                    else bearer(role))
    assert response.status_code == 403
    assert "not sent care notifications" in response.json()["detail"]


async def test_a_member_who_leaves_the_team_is_no_longer_sent_its_notices(application, streams):
    person, other = Person(application), Person(application)
    person.joined("casey")
    other.joined("casey")
    stream = streams.follow(CLINICIAN, after=await streams.start_position(None), record_reads=noted)
    first = person.notice("crisis")
    assert [d["notification_id"] for d in await received(stream, 1)] == [first]

    person.left("casey")
    person.notice("crisis")  # recorded after the member left: not theirs any more
    marker = other.notice("crisis")  # still on this team: it arrives, and nothing before it did
    [document] = await received(stream, 1)
    assert document["notification_id"] == marker
    await stream.aclose()


async def test_a_revocation_stops_the_notices_it_shared_at_once_on_an_open_stream(application, streams):
    person, other = Person(application), Person(application)
    person.joined("casey")
    directive = person.consents("aunt", "crisis")
    other.consents("aunt", "crisis")
    stream = streams.follow(AUNT, after=await streams.start_position(None), record_reads=noted)
    person.notice("screening_positive", category="mental_health")  # not shared with the aunt
    shared = person.notice("crisis_follow_up")
    [document] = await received(stream, 1)
    assert (document["notification_id"], document["kind"], document["category"]) == (shared, "crisis_follow_up",
                                                                                      "crisis")
    assert "message" not in document and document["links"] == {"careplan": f"/people/{person.id}/shared"}

    person.revokes(directive)
    person.notice("crisis_follow_up")
    marker = other.notice("crisis_follow_up")
    [document] = await received(stream, 1)
    assert document["notification_id"] == marker
    await stream.aclose()


async def test_a_resume_starts_after_the_position_given_and_repeats_nothing(application, streams):
    person = Person(application)
    person.joined("casey")
    notices = [person.notice("crisis") for _ in range(7)]  # more than a page (3)
    stream = streams.follow(CLINICIAN, after=0, record_reads=noted)
    first = await received(stream, 4)
    await stream.aclose()
    positions = await _positions(streams, 0, 4)
    resumed = streams.follow(CLINICIAN, after=positions[-1], record_reads=noted)
    rest = await received(resumed, 3)
    await resumed.aclose()
    assert [d["notification_id"] for d in first + rest] == notices


async def _positions(streams: NoticeStreams, after: int, count: int) -> list[int]:
    stream = streams.follow(CLINICIAN, after=after, record_reads=noted)
    found = [notice.position for notice, _ in [await anext(stream) for _ in range(count)]]
    await stream.aclose()
    return found



async def test_a_stream_ends_when_the_token_it_was_opened_on_expires(application):
    now = [NOW]
    run_sync = RunsInline().run_sync
    streams = NoticeStreams(application, run_sync, ThreadedLogReader(application.recorder, run_sync),
                            poll_seconds=0.01, clock=lambda: now[0])
    person = Person(application)
    person.joined("casey")
    stream = streams.follow(CLINICIAN, after=0, until=(NOW + timedelta(minutes=1)).timestamp(), record_reads=noted)
    person.notice("crisis")
    assert len(await received(stream, 1)) == 1

    now[0] = NOW + timedelta(minutes=1, seconds=1)
    person.notice("crisis")
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(stream), timeout=5)


async def test_what_is_sent_is_recorded_first_as_one_read_per_person_naming_each_event(application, streams):
    person, other = Person(application), Person(application)
    person.joined("casey")
    other.joined("casey")
    recorder = AccessRecorder(RunsInline().run_sync, application)
    reads = StreamReads(recorder, CLINICIAN, Provenance("casey", "clinician", "stream-1"), "COC")
    recorded_before_sent = []

    async def record(notices: Sequence[StreamedNotice]) -> None:
        await reads.record(notices)
        recorded_before_sent.append([n.position for n in notices])

    after = await streams.start_position(None)
    person.notice("crisis_follow_up")
    person.notice("screening_positive", category="mental_health")
    other.notice("crisis_follow_up")
    stream = streams.follow(CLINICIAN, after=after, record_reads=record)
    first = await anext(stream)
    # The whole page (3 notices, two people) was recorded before the first of it was sent.
    assert recorded_before_sent and len(recorded_before_sent[0]) == 3
    await received(stream, 2)
    await stream.aclose()

    [mine] = recorded_accesses(application, person.id)
    [theirs] = recorded_accesses(application, other.id)
    assert (mine.reader_id, mine.reader_role, mine.resource, mine.route, mine.outcome.value, mine.purpose,
            mine.correlation_id) == ("casey", "clinician", "notice stream", "/stream", "allowed", "COC", "stream-1")
    assert mine.items == (f"{first[0].position}:crisis_follow_up", f"{first[0].position + 1}:screening_positive")
    assert theirs.items == (f"{first[0].position + 2}:crisis_follow_up",)


async def test_what_cannot_be_recorded_is_not_sent_and_the_stream_ends(application, streams):
    person = Person(application)
    person.joined("casey")
    person.notice("crisis")

    async def refused(notices: Sequence[StreamedNotice]) -> None:
        raise AccessNotRecorded("the store is unavailable")

    stream = streams.follow(CLINICIAN, after=0, record_reads=refused)
    with pytest.raises(AccessNotRecorded):
        await asyncio.wait_for(anext(stream), timeout=5)


async def test_a_disclosure_that_cannot_be_recorded_is_not_sent_and_the_stream_ends_as_unrecorded(
        application, streams, monkeypatch):
    person = Person(application)
    person.joined("casey")
    person.consents("aunt", "crisis")
    person.notice("crisis_follow_up")

    def store_down(*args, **kwargs):
        raise ConnectionError("the store is unavailable")

    monkeypatch.setattr(application, "record_streamed_disclosure", store_down)
    stream = streams.follow(AUNT, after=0, record_reads=noted)
    with pytest.raises(AccessNotRecorded):  # what stream_http ends cleanly on, as for reads
        await asyncio.wait_for(anext(stream), timeout=5)
