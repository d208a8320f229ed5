"""A person's history across the three services, as the auditor reads it (`carecoord audit history`,
`GET /audit/people/{id}/history`) and as the person reads their own: after registration, a team,
an urgent screening and a crisis contact, to which careplan and notifications react."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import uuid

import psycopg
import pytest
from typer.testing import CliRunner

from carecoord.cli import app
from services.intake.application import IntakeApplication
from services.intake.bootstrap import IntakeSettings
from shared.domain import Provenance
from shared.eventstore import ensure_schema
from tests.integration.test_event_flow import PHQ9_WITH_SUICIDE_RISK, register
from tests.support.polling import eventually
from tests.support.system import TEST_CIPHER_KEY, System, bearer
from tests.support.teams import join_team

AUDITOR = bearer("auditor", "avery-auditor")
CLI_AUDITOR = "cli-history-auditor"
SUPERVISOR = bearer("supervisor", "sam-supervisor")


@pytest.fixture
def history_cli(isolation, monkeypatch, tmp_path):
    """Runs `carecoord audit history ...` against the test's database; the lines it printed."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", isolation.database_url)
    monkeypatch.setenv("EVENT_CIPHER_KEY", TEST_CIPHER_KEY)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["audit", "history", *args, "--as", CLI_AUDITOR])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == 0, result.output
        # Each run records its own read first, and so lists it (tests/integration/test_audit_reads.py):
        # left out here, where runs are compared with each other and with the endpoints.
        return "".join(line for line in result.stdout.splitlines(keepends=True) if CLI_AUDITOR not in line)

    return run


async def _person_with_a_crisis(system: System) -> tuple[str, dict]:
    """A person registered, with a team, an urgent screening and a crisis contact, once careplan
    and notifications have reacted to all of it; and the services' HTTP clients."""
    services = {name: await system.start_connected(name) for name in ("intake", "careplan", "notifications")}
    clients = {name: system.client(service) for name, service in services.items()}
    async with system.client(services["intake"], "agency_system") as agency:
        person_id = await register(agency)
    joined = await join_team(clients["careplan"], person_id, "casey-coordinator", "care_coordinator", SUPERVISOR)
    assert joined.status_code == 201, joined.text
    coordinator = bearer("care_coordinator", "casey-coordinator")

    async def team_at_intake():
        return (await clients["intake"].get(f"/people/{person_id}", headers=coordinator)).status_code == 200

    await eventually(team_at_intake, what="the team known to intake")
    screening = await clients["intake"].post(f"/people/{person_id}/screenings", headers={
        **coordinator, "X-Correlation-Id": "corr-history-screening"},
        json={"instrument": "PHQ-9", "answers": PHQ9_WITH_SUICIDE_RISK})
    assert screening.status_code == 201, screening.text
    crisis = await clients["intake"].post(f"/people/{person_id}/crisis-contacts", headers={
        **coordinator, "X-Correlation-Id": "corr-history-crisis"}, json={
        # Now: its follow-up is due tomorrow, so notifications' timer adds nothing while the test reads.
        "kind": "crisis_line_call", "occurred_at": datetime.now(timezone.utc).isoformat(), "location": "phone",
        "responders": [], "outcome": "resolved_in_community"})
    assert crisis.status_code == 201, crisis.text

    async def reacted():
        timeline = await clients["careplan"].get(f"/people/{person_id}/timeline", headers=AUDITOR)
        follow_ups = await clients["notifications"].get(f"/people/{person_id}/crisis-follow-ups", headers=AUDITOR)
        return (timeline.status_code == 200 and len(timeline.json()["entries"]) >= 4 and follow_ups.status_code == 200
                and len(follow_ups.json()["follow_ups"]) == 1)

    await eventually(reacted, what="careplan and notifications reacting to the crisis contact")
    return person_id, clients


def _without_time(line: dict) -> dict:
    return {name: value for name, value in line.items() if name != "occurred_at"}


def _check_causes_come_first(lines: list[dict]) -> int:
    """Every line whose cause is listed comes after it; the number of such lines."""
    seen, checked = set(), 0
    listed = {(line["service"], line["position"]) for line in lines}
    for line in lines:
        cause = line["caused_by"]
        if cause and (cause["source"], cause["position"]) in listed:
            assert (cause["source"], cause["position"]) in seen, f"{line['type']} listed before its cause"
            checked += 1
        seen.add((line["service"], line["position"]))
    return checked


async def test_the_history_of_a_person_spans_the_services_in_causal_order(system: System, history_cli):
    person_id, clients = await _person_with_a_crisis(system)

    lines = [json.loads(text) for text in history_cli(person_id, "--format", "jsonl").splitlines()]
    assert {line["service"] for line in lines} == {"intake", "careplan", "notifications"}
    assert {line["person_id"] for line in lines} == {person_id}
    assert _check_causes_come_first(lines) >= 6  # careplan's and notifications' reactions, intake's team view
    # No clock skew here: causal order is also time order. Access records (reads of the record,
    # caused by nothing the history shows) are stamped when made and may commit after a change
    # stamped a moment later, so they are left out of this check.
    times = [datetime.fromisoformat(line["occurred_at"]) for line in lines if "AccessRecord" not in line["type"]]
    assert times == sorted(times)

    intake_types = [line["type"] for line in lines if line["service"] == "intake"]
    assert intake_types[:1] == ["Person.Registered"] or intake_types[0].endswith("Registered")
    assert "Person.ScreeningCompleted" in intake_types and "Person.CrisisContactRecorded" in intake_types
    screening = next(line for line in lines if line["type"] == "Person.ScreeningCompleted")
    assert (screening["actor_id"], screening["actor_role"], screening["correlation_id"]) == (
        "casey-coordinator", "care_coordinator", "corr-history-screening")
    assert screening["data"]["answers"] == PHQ9_WITH_SUICIDE_RISK  # decrypted
    # Careplan and notifications applied the screening: their lines name it as their cause and
    # carry its correlation id; the service itself acted.
    effects = [line for line in lines if line["caused_by"] and line["caused_by"]["event_id"] == screening["event_id"]]
    assert {line["service"] for line in effects} == {"careplan", "notifications"}
    assert all(line["correlation_id"] == "corr-history-screening" and line["actor_role"] == "service"
               for line in effects)

    # Small pages give the same history as large ones.
    assert history_cli(person_id, "--format", "jsonl", "--page-size", "2") == \
        history_cli(person_id, "--format", "jsonl")

    # Filters: by service, by type, by time.
    only_intake = [json.loads(t) for t in history_cli(person_id, "-f", "jsonl", "--service", "intake").splitlines()]
    assert only_intake == [line for line in lines if line["service"] == "intake"]
    screenings = [json.loads(t) for t in history_cli(person_id, "-f", "jsonl", "--type", "ScreeningCompleted",
                                                     "--type", "Person.CrisisContactRecorded").splitlines()]
    assert [line["type"] for line in screenings] == ["Person.ScreeningCompleted", "Person.CrisisContactRecorded"]
    since = screening["occurred_at"]
    later = [json.loads(t) for t in history_cli(person_id, "-f", "jsonl", "--since", since).splitlines()]
    assert later == [line for line in lines if line["occurred_at"] >= since] and later[0] == screening
    earlier = [json.loads(t) for t in history_cli(person_id, "-f", "jsonl", "--until", since).splitlines()]
    assert earlier == [line for line in lines if line["occurred_at"] < since] and screening not in earlier

    # CSV and the table: the same events, one row each.
    rows = list(csv.DictReader(io.StringIO(history_cli(person_id, "--format", "csv"))))
    assert [(row["service"], int(row["position"]), row["type"]) for row in rows] == \
        [(line["service"], line["position"], line["type"]) for line in lines]
    assert json.loads(rows[lines.index(screening)]["data"])["answers"] == PHQ9_WITH_SUICIDE_RISK
    table = history_cli(person_id).splitlines()
    assert table[0].split()[:3] == ["occurred_at", "service", "position"] and len(table) == len(lines) + 1

    # Each service's part over HTTP is the same lines, page by page with the cursor.
    for name, client in clients.items():
        paged, cursor = [], None
        while True:
            response = await client.get(f"/audit/people/{person_id}/history", headers=AUDITOR,
                                        params={"limit": 2, **({"cursor": cursor} if cursor else {})})
            assert response.status_code == 200, response.text
            paged += response.json()["items"]
            if (cursor := response.json()["next_cursor"]) is None:
                break
        # Reading a page is itself recorded (an access record, in the person's history): the
        # pages read after the first show the reads of the pages before them.
        paged_reads = [item for item in paged if "AccessRecord" in item["type"]]
        assert len(paged_reads) > len([line for line in lines
                                       if line["service"] == name and "AccessRecord" in line["type"]])
        paged = [item for item in paged if "AccessRecord" not in item["type"]]
        expected = [line for line in lines if line["service"] == name and "AccessRecord" not in line["type"]]
        assert [_without_time(item) for item in paged] == [_without_time(line) for line in expected]
        assert [datetime.fromisoformat(item["occurred_at"]) for item in paged] == \
            [datetime.fromisoformat(line["occurred_at"]) for line in expected]
    for client in clients.values():
        await client.aclose()


async def test_the_person_reads_their_own_history_without_staff_internal_details(system: System):
    person_id, clients = await _person_with_a_crisis(system)
    own = bearer("person", "the-person", person_id=person_id)
    response = await clients["intake"].get(f"/audit/people/{person_id}/history", headers=own)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    screening = next(item for item in items if item["type"] == "Person.ScreeningCompleted")
    assert (screening["actor_id"], screening["actor_role"]) == (None, "care_coordinator")  # staff: the role only
    assert "fingerprint" not in screening["data"] and screening["data"]["answers"] == PHQ9_WITH_SUICIDE_RISK
    registered = items[0]
    assert registered["actor_id"] is not None  # the agency's system stays named

    other = await clients["intake"].get(f"/audit/people/{person_id}/history",
                                        headers=bearer("person", "someone-else",
                                                       person_id="00000000-0000-4000-8000-000000000001"))
    assert other.status_code == 404
    staff = await clients["careplan"].get(f"/audit/people/{person_id}/history",
                                          headers=bearer("care_coordinator", "casey-coordinator"))
    assert staff.status_code == 403
    bad = await clients["notifications"].get(f"/audit/people/{person_id}/history", headers=AUDITOR,
                                             params={"cursor": "not-a-position"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "cursor"]
    for client in clients.values():
        await client.aclose()


def test_events_stored_before_the_index_are_indexed_by_a_one_off_pass(isolation, history_cli):
    settings = IntakeSettings(database_url=isolation.database_url, event_cipher_key=TEST_CIPHER_KEY)
    ensure_schema(settings)
    intake = IntakeApplication(env=settings.eventsourcing_env())
    provenance = Provenance("agency-7", "agency_system", "corr-before")
    try:
        people = [intake.register_person("north", f"before-{n}", f"Person {n}", None, provenance) for n in range(3)]
        for person in people * 2:
            intake.record_screening(person.person_id, uuid.uuid4(), "GAD-7", {"item1": 1}, provenance)
    finally:
        intake.close()
    person_id = str(people[1].person_id)
    indexed = history_cli(person_id, "-f", "jsonl", "-s", "intake")
    # As a store from before the index: no rows, and the marker at its last position.
    with psycopg.connect(isolation.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM intake.person_events")
        conn.execute("UPDATE intake.person_events_backfill SET indexed_from = "
                     "(SELECT max(notification_id) FROM intake.intake_events)")
    assert history_cli(person_id, "-f", "jsonl", "-s", "intake") == ""

    runner = CliRunner()
    result = runner.invoke(app, ["audit", "index-history", "--service", "intake"])
    assert result.exit_code == 0, result.output
    assert "indexed 10 events" in result.stdout  # 9 changes, and the read the first history run recorded
    assert history_cli(person_id, "-f", "jsonl", "-s", "intake") == indexed
    assert len(indexed.splitlines()) == 3
    again = runner.invoke(app, ["audit", "index-history", "--service", "intake"])
    assert again.exit_code == 0 and "indexed 0 events" in again.stdout
