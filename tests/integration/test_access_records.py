"""Every read of a person's record is recorded in the service's store before the reader is
answered: allowed, refused (403, 404) or not found, with why it was read; a read that cannot be
recorded is not answered (503) and nothing of the record is sent."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import psycopg
import pytest

from shared.access_recording import recorded_accesses
from shared.access_records import AccessRecord
from shared.runtime import Service
from tests.support.polling import eventually
from tests.support.system import System, bearer
from tests.support.tcp_proxy import TcpProxy

ROUTE = "/people/{person_id}"


async def register(intake: httpx.AsyncClient, record: str) -> str:
    response = await intake.post("/people", json={"agency": "riverside", "agency_person_id": record,
                                                  "preferred_name": "Jordan Example"})
    assert response.status_code == 201, response.text
    return response.json()["person_id"]


async def records_of(service: Service, person_id: str) -> list[AccessRecord]:
    return await asyncio.to_thread(recorded_accesses, service.application, uuid.UUID(person_id))


def summary(record: AccessRecord) -> tuple:
    return (record.reader_id, record.reader_role, record.resource, record.route, record.outcome.value,
            record.status, record.purpose)


async def test_a_read_a_403_and_a_404_each_leave_exactly_one_record_before_the_answer(system: System):
    intake = await system.start("intake")
    async with system.client(intake, "agency_system", "riverside-system", agency="riverside") as riverside:
        person_id = await register(riverside, "ACC-1")
        assert await records_of(intake, person_id) == []  # registering is a change, not a read

        read = await riverside.get(f"/people/{person_id}", headers={"X-Correlation-Id": "visit-42"})
        assert read.status_code == 200 and read.json()["preferred_name"] == "Jordan Example"
        # Checked as soon as the answer is in: the record was committed before it was sent.
        [allowed] = await records_of(intake, person_id)
        assert summary(allowed) == ("riverside-system", "agency_system", "intake record", ROUTE, "allowed", 200,
                                    "TREAT")
        assert (allowed.person_id, allowed.correlation_id, allowed.reader_agency) == (
            uuid.UUID(person_id), "visit-42", "riverside")
        assert allowed.version == 1 and allowed.recorded_at is not None

        family = await riverside.get(f"/people/{person_id}", headers=bearer("support_person", "aunt-may"))
        assert family.status_code == 403 and "Jordan" not in family.text
        [_, refused_403] = await records_of(intake, person_id)
        assert summary(refused_403) == ("aunt-may", "support_person", "intake record", ROUTE, "refused_403", 403,
                                        "TREAT")

        elsewhere = await riverside.get(f"/people/{person_id}",
                                        headers=bearer("agency_system", "hillside-system", agency="hillside"))
        assert elsewhere.status_code == 404 and "Jordan" not in elsewhere.text
        [_, _, refused_404] = await records_of(intake, person_id)
        assert summary(refused_404) == ("hillside-system", "agency_system", "intake record", ROUTE, "refused_404",
                                        404, "TREAT")

        # An auditor's reads are recorded too; one of no one at all says so (the caller saw the same 404).
        nobody = str(uuid.uuid4())
        absent = await riverside.get(f"/people/{nobody}", headers=bearer("auditor", "auditor-1"))
        assert absent.status_code == 404
        [not_found] = await records_of(intake, nobody)
        assert summary(not_found) == ("auditor-1", "auditor", "intake record", ROUTE, "not_found", 404, "TREAT")
        assert len(await records_of(intake, person_id)) == 3

        # The person's history lists the reads of their record (the index keys on `person_id`).
        history = await riverside.get(f"/people/{person_id}", headers=bearer("auditor", "auditor-1"))
        assert history.status_code == 200
        page = await riverside.get(f"/audit/people/{person_id}/history", headers=bearer("auditor", "auditor-1"))
        assert page.status_code == 200, page.text
        assert sum("AccessRecord" in str(item) for item in page.json()["items"]) == 4


async def test_the_purpose_of_use_is_recorded_and_an_unknown_one_is_refused_naming_the_header(system: System):
    intake = await system.start("intake")
    async with system.client(intake, "agency_system", agency="riverside") as riverside:
        person_id = await register(riverside, "ACC-2")
        stated = await riverside.get(f"/people/{person_id}", headers={"X-Purpose-Of-Use": "HOPERAT"})
        assert stated.status_code == 200
        [record] = await records_of(intake, person_id)
        assert record.purpose == "HOPERAT"

        unknown = await riverside.get(f"/people/{person_id}", headers={"X-Purpose-Of-Use": "CURIOSITY"})
        assert unknown.status_code == 422 and "Jordan" not in unknown.text
        assert [error["loc"] for error in unknown.json()["detail"]] == [["header", "X-Purpose-Of-Use"]]
        assert len(await records_of(intake, person_id)) == 1  # nothing was read


async def test_the_purpose_header_is_documented_on_every_read(system: System):
    careplan = await system.start("careplan")
    async with system.client(careplan, "auditor") as client:
        document = (await client.get("/openapi.json")).json()
    get_plan = document["paths"]["/people/{person_id}/plan"]["get"]
    [purpose] = [p for p in get_plan["parameters"] if p["name"].lower() == "x-purpose-of-use"]
    assert purpose["in"] == "header" and not purpose.get("required", False)
    assert "503" in get_plan["responses"]


async def test_an_auditors_read_at_careplan_is_recorded_in_careplans_store(system: System):
    careplan = await system.start("careplan")
    nobody = str(uuid.uuid4())
    async with system.client(careplan, "auditor", "auditor-2") as auditor:
        response = await auditor.get(f"/people/{nobody}/picture", headers={"X-Purpose-Of-Use": "HLEGAL"})
    assert response.status_code == 404
    [record] = await records_of(careplan, nobody)
    assert summary(record) == ("auditor-2", "auditor", "integrated picture", "/people/{person_id}/picture",
                               "not_found", 404, "HLEGAL")


async def test_a_read_whose_record_cannot_be_written_answers_503_and_sends_nothing(system: System, isolation):
    """The store takes no writes (another session holds the table lock every write needs) while it
    still answers reads: the record is all that fails, and the reader gets nothing of the person."""
    intake = await system.start("intake", access_record_timeout=1.0)
    async with system.client(intake, "agency_system", agency="riverside") as riverside:
        person_id = await register(riverside, "ACC-3")
        with psycopg.connect(isolation.database_url) as blocker:
            blocker.execute("LOCK TABLE intake.intake_events IN EXCLUSIVE MODE")
            response = await riverside.get(f"/people/{person_id}")
            assert response.status_code == 503, response.text
            assert "Jordan" not in response.text and "riverside" not in response.text
            assert "could not be recorded" in response.json()["detail"]
            blocker.rollback()
        # Once writes are taken again, so are reads.
        assert (await riverside.get(f"/people/{person_id}")).status_code == 200


async def test_with_the_database_cut_off_a_read_answers_503_and_sends_nothing(system: System, isolation):
    host, port = "127.0.0.1", int(isolation.database_url.rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy(host, port)
    await proxy.start()
    try:
        through_proxy = isolation.database_url.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
        # A short wait for a connection: eventsourcing retries each failed call up to 10 times.
        intake = await system.start("intake", database_url=through_proxy, access_record_timeout=1.0,
                                    database_connect_timeout=1)
        async with system.client(intake, "agency_system", agency="riverside") as riverside:
            person_id = await register(riverside, "ACC-4")
            assert (await riverside.get(f"/people/{person_id}")).status_code == 200
            proxy.cut()
            response = await riverside.get(f"/people/{person_id}")
            assert response.status_code == 503, response.text
            assert "Jordan" not in response.text
            proxy.restore()

            async def answered() -> bool:
                return (await riverside.get(f"/people/{person_id}")).status_code == 200

            await eventually(answered, timeout=30, what="reads answered again once the database is back")
    finally:
        await proxy.close()


async def test_with_the_database_not_answering_a_read_answers_503_within_the_read_timeout(system: System,
                                                                                          isolation):
    """Nothing fails quickly here (connections stay open, new ones are accepted and never answered),
    and the connect timeout is as patient as start-up needs (30 s, retried): the read's own bound
    answers."""
    host, port = "127.0.0.1", int(isolation.database_url.rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy(host, port)
    await proxy.start()
    try:
        through_proxy = isolation.database_url.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
        intake = await system.start("intake", database_url=through_proxy, read_timeout=1.0)
        assert intake.settings.database_connect_timeout == 30
        async with system.client(intake, "agency_system", agency="riverside") as riverside:
            person_id = await register(riverside, "ACC-5")
            assert (await riverside.get(f"/people/{person_id}")).status_code == 200
            proxy.stall()
            started = time.monotonic()
            response = await asyncio.wait_for(riverside.get(f"/people/{person_id}"), timeout=20)
            waited = time.monotonic() - started
            assert response.status_code == 503, response.text
            assert "Jordan" not in response.text and "did not answer" in response.json()["detail"]
            assert waited < 5, f"answered after {waited:.1f} s"
            proxy.restore()

            async def answered() -> bool:
                return (await riverside.get(f"/people/{person_id}")).status_code == 200

            await eventually(answered, timeout=30, what="reads answered again once the database answers")
    finally:
        await proxy.close()


pytestmark = pytest.mark.integration
