"""What every service's HTTP edge does with hostile or careless requests: bodies that never end or
never arrive, text that is not Unicode, tokens whose claims are malformed, headers and path
parameters carrying what no id should."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid

import aio_pika
import httpx
import jwt
import pytest

from tests.support.serving import serving
from tests.support.system import TEST_AGENCY, TEST_JWT_SECRET, System, bearer
from tests.support.traceparents import continues, starts_afresh, trace_id_of

CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@pytest.fixture
async def intake(system: System):
    service = await system.start("intake")
    async with system.client(service, "agency_system") as client:
        yield client


async def register(intake: httpx.AsyncClient, record: str = "R-1", **headers: str) -> str:
    response = await intake.post("/people", headers=headers, json={
        "agency": TEST_AGENCY, "agency_person_id": record, "preferred_name": "Jordan"})
    assert response.status_code == 201, response.text
    return response.json()["person_id"]


def names_field(response: httpx.Response, *loc: str) -> bool:
    return any(tuple(error["loc"][: len(loc)]) == loc for error in response.json()["detail"])


@pytest.mark.parametrize(("path", "body", "loc"), [
    ("/people", b'{"agency": "north-clinic", "agency_person_id": "R-9", "preferred_name": "\\ud800"}',
     ("body", "preferred_name")),
    ("/people", b'{"agency": "north-clinic", "agency_person_id": "R-9", "preferred_name": "Jo\\udfff\\ud83d"}',
     ("body", "preferred_name")),
    ("{person}/screenings", b'{"instrument": "PHQ-9", "answers": {"item1\\udc00": 1}}', ("body", "answers")),
    ("{person}/crisis-contacts", b'{"kind": "crisis_line_call", "occurred_at": "2026-01-02T03:04:05Z", '
     b'"location": "home", "responders": ["\\ud800"], "outcome": "unknown"}', ("body", "responders", 0)),
])
async def test_a_lone_surrogate_in_a_json_string_is_422_naming_the_field(intake, path, body, loc):
    person_id = await register(intake)
    response = await intake.post(path.replace("{person}", f"/people/{person_id}"), content=body,
                                 headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert names_field(response, *loc), response.json()


async def test_a_surrogate_pair_is_an_ordinary_character(intake):
    response = await intake.post("/people", headers={"content-type": "application/json"}, content=(
        b'{"agency": "north-clinic", "agency_person_id": "R-2", "preferred_name": "Jo \\ud83d\\ude00"}'))
    assert response.status_code == 201, response.text
    assert (await intake.get(f"/people/{response.json()['person_id']}")).json()["preferred_name"] == "Jo \U0001F600"


@pytest.mark.parametrize("claims", [
    {"role": "person", "person_id": 5},
    {"role": "agency_system", "agency": ["north-clinic", "south-clinic"]},
    {"role": "clinician", "sub": {"id": "dana"}},
    {"role": ["clinician"]},
], ids=["person_id-int", "agency-list", "sub-object", "role-list"])
async def test_a_signed_token_with_malformed_claims_is_401(system: System, claims):
    service = await system.start("intake")
    now = int(time.time())
    forged = jwt.encode({"sub": "dana", "aud": "carecoord", "iss": "carecoord-dev", "iat": now, "exp": now + 600,
                         **claims}, TEST_JWT_SECRET, algorithm="HS256")
    async with system.client(service) as client:
        response = await client.get(f"/people/{uuid.uuid4()}", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401, response.text


async def test_an_oversized_chunked_body_is_413_from_the_real_server(system: System):
    service = await system.start("intake")
    limit = service.settings.max_body_bytes

    async def chunks():
        for _ in range(limit // 4096 + 4):
            yield b"x" * 4096

    async with serving(service) as (host, port):
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", headers=bearer("agency_system")) as client:
            response = await client.post("/people", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413, response.text
    assert "larger than" in response.json()["detail"]
    assert CORRELATION_ID.match(response.headers["X-Correlation-Id"])


async def test_a_body_that_stops_arriving_is_408_and_the_connection_is_closed(system: System):
    service = await system.start("intake", request_body_timeout=0.3)
    token = bearer("agency_system")["Authorization"]
    async with serving(service) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"POST /people HTTP/1.1\r\nHost: intake\r\nContent-Type: application/json\r\n"
                     b"Authorization: " + token.encode() + b"\r\nContent-Length: 1000\r\n\r\n{\"agency\": ")
        await writer.drain()
        # The client never sends the rest: the server answers and closes (read to EOF, bounded).
        answer = await asyncio.wait_for(reader.read(), timeout=10)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


async def test_a_body_that_arrives_in_time_is_served(system: System):
    service = await system.start("intake", request_body_timeout=5)
    async with serving(service) as (host, port):
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", headers=bearer("agency_system")) as client:
            person_id = await register(client)
    assert uuid.UUID(person_id)


async def raw_answer(host: str, port: int, request: bytes) -> bytes:
    """What the server answers to these bytes, sent in pieces while the answer is read to its end
    (the server closes), within a bound."""
    reader, writer = await asyncio.open_connection(host, port)

    async def send() -> None:
        with contextlib.suppress(ConnectionError):
            for start in range(0, len(request), 65536):
                writer.write(request[start:start + 65536])
                await writer.drain()

    sending = asyncio.create_task(send())
    try:
        answer = b""
        with contextlib.suppress(ConnectionError):
            while chunk := await asyncio.wait_for(reader.read(65536), timeout=10):
                answer += chunk
        return answer
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        writer.close()


async def test_headers_larger_than_the_limit_are_431_and_the_connection_is_closed(system: System):
    service = await system.start("intake", max_header_bytes=8192)
    token = bearer("agency_system")["Authorization"].encode()
    async with serving(service) as (host, port):
        # One huge header, sent in pieces: refused once the limit is passed, not buffered whole.
        huge = await raw_answer(host, port, b"GET /people/x HTTP/1.1\r\nHost: intake\r\nX-Big: " + b"a" * 2_000_000
                                + b"\r\n\r\n")
        # Many small ones, arriving in one piece with the request line.
        many = await raw_answer(host, port, b"GET /healthz HTTP/1.1\r\nHost: intake\r\n"
                                + b"".join(b"X-H%d: %s\r\n" % (n, b"v" * 100) for n in range(100)) + b"\r\n")
        # A long URL counts too.
        long_url = await raw_answer(host, port, b"GET /people/" + b"x" * 9000 + b" HTTP/1.1\r\nHost: intake\r\n\r\n")
        # Under the limit (a bearer token and a few kilobytes more) is served as ever.
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
            served = await client.get("/healthz", headers={"Authorization": token.decode(), "X-Note": "n" * 4000})
    for answer in (many, long_url):
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"connection: close" in head.lower()
        assert "header" in json.loads(body)["detail"]
    assert huge.startswith(b"HTTP/1.1 431 "), huge[:200]
    assert served.status_code == 200, served.text


@pytest.mark.parametrize("given", ["x" * 30_000, "batch 7", "a\tb", "é" * 10, "x" * 129, ""])
async def test_an_unusable_correlation_id_is_replaced_by_a_new_one(intake, given):
    response = await intake.get(f"/people/{uuid.uuid4()}", headers={"X-Correlation-Id": given.encode()})
    echoed = response.headers["X-Correlation-Id"]
    assert echoed != given and CORRELATION_ID.match(echoed), echoed[:200]


async def test_a_usable_correlation_id_is_echoed(intake):
    given = "agency-batch:77.a_b-" + "x" * 100
    response = await intake.get(f"/people/{uuid.uuid4()}", headers={"X-Correlation-Id": given})
    assert response.headers["X-Correlation-Id"] == given


async def test_only_a_well_formed_traceparent_reaches_the_published_events(system: System):
    service = await system.start_connected("intake")
    tap = await system.tap("#")
    good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with system.client(service, "agency_system") as intake:
        await register(intake, "R-good", traceparent=good, **{"X-Correlation-Id": "good-one"})
        await register(intake, "R-long", traceparent="00-" + "a" * 40_000, **{"X-Correlation-Id": "long-one"})
        await register(intake, "R-upper", traceparent=good.upper(), **{"X-Correlation-Id": "upper-one"})
    messages = await system.collect(tap, 3, "three registrations published")
    published = {message.correlation_id: (message.headers or {}).get("traceparent") for message in messages}
    assert continues(published["good-one"], good), published
    assert starts_afresh(published["long-one"], "a" * 32), published
    assert starts_afresh(published["upper-one"], trace_id_of(good)), published


@pytest.mark.parametrize("member_id", ["a%00b", "%07", "dana%0d%0aSet-Cookie:x", "%7f"])
async def test_an_id_in_the_path_with_control_characters_is_422_naming_it(system: System, member_id):
    careplan = await system.start("careplan")
    async with system.client(careplan, "supervisor") as client:
        response = await client.delete(f"/people/{uuid.uuid4()}/team/{member_id}")
    assert response.status_code == 422, response.text
    assert names_field(response, "path", "member_id"), response.json()


async def test_a_directive_id_with_a_nul_is_422_naming_it(intake):
    person_id = await register(intake)
    response = await intake.post(f"/people/{person_id}/consents/a%00b/revocation", json={})
    assert response.status_code == 422, response.text
    assert names_field(response, "path", "directive_id"), response.json()


async def test_agency_commands_over_amqp_get_the_same_bounds_on_correlation_id_and_traceparent(system: System):
    await system.start_connected("intake")
    tap = await system.tap("#")
    channel = await system.channel()
    exchange = await channel.get_exchange("carecoord.commands")
    for record, correlation_id, traceparent in [
        ("AMQP-good", "amqp-good", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("AMQP-bad", "not usable: spaces", "00-" + "a" * 40_000),
    ]:
        body = {"command": "register_person", "agency": TEST_AGENCY, "agency_person_id": record,
                "preferred_name": "Noor"}
        await exchange.publish(aio_pika.Message(
            json.dumps(body).encode(), content_type="application/json", message_id=str(uuid.uuid4()),
            correlation_id=correlation_id, headers={"authorization": bearer("agency_system")["Authorization"], "traceparent": traceparent},
        ), routing_key="intake")
    messages = await system.collect(tap, 2, "two registrations published")
    published = sorted(((m.correlation_id, (m.headers or {}).get("traceparent")) for m in messages),
                       key=lambda pair: pair[0] != "amqp-good")
    assert published[0][0] == "amqp-good"
    assert continues(published[0][1], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), published[0]
    assert CORRELATION_ID.match(published[1][0]) and starts_afresh(published[1][1], "a" * 32), published[1]
