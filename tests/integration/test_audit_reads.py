"""An auditor's reads through `carecoord audit` (history, as-of, prove) read the services' stores
directly, so the command records them itself, in each service's own store, before it prints
anything: who (`--as`), as an auditor, why (`--purpose`, compliance by default), which person and
what. They are then in the person's history like every other read; a read that cannot be recorded
prints nothing."""

from __future__ import annotations

import asyncio
import json
import uuid

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from carecoord.cli import app
from shared.access_recording import recorded_accesses
from shared.access_records import AccessRecord
from shared.checkpoints import NoteSigner
from shared.runtime import Service
from tests.support.system import TEST_AGENCY, TEST_CIPHER_KEY, System, bearer

SERVICES = ("intake", "careplan", "notifications")


@pytest.fixture
def audit(isolation, monkeypatch, tmp_path):
    """Runs `carecoord audit ...` against the test's database: (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", isolation.database_url)
    monkeypatch.setenv("EVENT_CIPHER_KEY", TEST_CIPHER_KEY)
    monkeypatch.setenv("AUDIT_SIGNING_KEY", NoteSigner.generate("audit-reads-test").text())
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["audit", *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return run


async def started(system: System) -> tuple[dict[str, Service], str]:
    """The three services (their stores made), and a person registered at intake."""
    services = {name: await system.start(name) for name in SERVICES}
    async with system.client(services["intake"], "agency_system") as agency:
        response = await agency.post("/people", json={"agency": TEST_AGENCY, "agency_person_id": "audit-reads",
                                                      "preferred_name": "Robin"})
    assert response.status_code == 201, response.text
    return services, response.json()["person_id"]


async def cli_reads(service: Service, person_id: str) -> list[AccessRecord]:
    found = await asyncio.to_thread(recorded_accesses, service.application, uuid.UUID(person_id))
    return [record for record in found if record.route.startswith("carecoord audit")]


def summary(record: AccessRecord) -> tuple:
    return (record.reader_id, record.reader_role, record.resource, record.route, record.outcome.value,
            record.status, record.purpose)


async def test_a_history_read_by_the_command_is_recorded_in_each_service_and_shown_in_the_history(
        system: System, audit):
    services, person_id = await started(system)
    code, out, err = await asyncio.to_thread(audit, "history", person_id, "-f", "jsonl", "--as", "ada-auditor",
                                             "--purpose", "HLEGAL")
    assert code == 0, err
    for service in services.values():
        [record] = await cli_reads(service, person_id)
        assert summary(record) == ("ada-auditor", "auditor", "audit history", "carecoord audit history", "allowed",
                                   200, "HLEGAL")
        assert record.correlation_id.startswith("carecoord-audit-")
    # Recorded before the stores were read: the read is in what it printed, once per service.
    lines = [json.loads(text) for text in out.splitlines()]
    own = [line for line in lines if line["type"].endswith("AccessRecord.Recorded")]
    assert sorted(line["service"] for line in own) == sorted(SERVICES)
    assert all((line["actor_id"], line["actor_role"], line["data"]["purpose"]) == ("ada-auditor", "auditor", "HLEGAL")
               for line in own)

    # And visible to auditors through the services too; without --purpose it is compliance.
    code, _, err = await asyncio.to_thread(audit, "history", person_id, "-s", "intake", "--as", "ada-auditor")
    assert code == 0, err
    async with system.client(services["intake"]) as intake:
        page = await intake.get(f"/audit/people/{person_id}/history", headers=bearer("auditor", "avery"))
    assert page.status_code == 200, page.text
    purposes = [line["data"]["purpose"] for line in page.json()["items"]
                if line["actor_id"] == "ada-auditor" and line["data"].get("route") == "carecoord audit history"]
    assert purposes == ["HLEGAL", "HCOMPL"]


async def test_as_of_and_prove_record_their_reads_in_the_service_they_read(system: System, audit):
    services, person_id = await started(system)
    code, _, _ = await asyncio.to_thread(audit, "as-of", person_id, "2026-01-01T00:00:00+00:00", "--as", "ada")
    assert code == 2  # careplan had not heard of them then: the read, and what it was answered, recorded
    [as_of] = await cli_reads(services["careplan"], person_id)
    assert summary(as_of) == ("ada", "auditor", "record as of a past moment", "carecoord audit as-of", "not_found",
                              404, "HCOMPL")

    code, _, err = await asyncio.to_thread(audit, "checkpoint", "-s", "intake")
    assert code == 0, err
    code, out, err = await asyncio.to_thread(audit, "prove", person_id, "-s", "intake", "--as", "ada")
    assert code == 0, err and json.loads(out)["proofs"]
    [proof] = await cli_reads(services["intake"], person_id)
    assert summary(proof) == ("ada", "auditor", "inclusion proof", "carecoord audit prove", "allowed", 200, "HCOMPL")

    code, out, err = await asyncio.to_thread(audit, "history", person_id, "--purpose", "CURIOSITY")
    assert code == 2 and out == "" and "--purpose" in err


async def test_a_read_that_cannot_be_recorded_prints_nothing(system: System, audit, isolation, monkeypatch):
    """An operator whose database user may read the stores but not write them: every read is
    refused, since none could be recorded."""
    _, person_id = await started(system)
    reader = f"cc_read_only_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(isolation.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(reader)))
        for schema in SERVICES:
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema),
                                                                          sql.Identifier(reader)))
            conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(sql.Identifier(schema),
                                                                                         sql.Identifier(reader)))
    try:
        monkeypatch.setenv("DATABASE_URL", isolation.database_url.replace("postgres@", f"{reader}@"))
        code, out, err = await asyncio.to_thread(audit, "history", person_id, "--as", "ada")
        assert code == 2 and out == ""
        assert "could not be recorded" in err
    finally:
        with psycopg.connect(isolation.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(reader)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(reader)))
