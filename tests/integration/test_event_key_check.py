"""A database whose events were written with another key (an earlier clone's demo, say) stops
`carecoord run` and each service before they start, with one paragraph that says what to do;
`--reset-demo-database` drops and re-creates only a local database holding nothing but carecoord's."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from carecoord.cli import app
from carecoord.demo_database import ResetRefused, key_mismatch, reset_demo_database
from services.intake.application import IntakeApplication
from services.intake.bootstrap import IntakeSettings, create_service
from shared.cipher import new_key
from shared.domain import Provenance
from shared.eventstore import ensure_schema
from shared.runtime import refuse_events_written_with_another_key, run
from shared.settings import ServiceSettings

SERVICES = ["intake", "careplan", "notifications"]
KEY_A, KEY_B = new_key(), new_key()
NAME = "Quillon-Key-Probe"  # clinical content: never in a message


def write_events(database_url: str, key: str) -> None:
    """Intake's events with `key`, as an earlier clone's `carecoord run` left them."""
    settings = IntakeSettings(database_url=database_url, event_cipher_key=key)
    ensure_schema(settings)
    intake = IntakeApplication(env=settings.eventsourcing_env())
    try:
        intake.register_person("north", "key-1", NAME, None, Provenance("agency-7", "agency_system", "corr-key"))
    finally:
        intake.close()


def sql(database_url: str, statement: str) -> list[tuple]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def carecoord_run(isolation, monkeypatch, tmp_path):
    """`carecoord run ...` in a fresh clone (its own .dev/) on the test's database: (exit code, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", isolation.database_url)
    monkeypatch.delenv("EVENT_CIPHER_KEY", raising=False)
    monkeypatch.delenv("EVENT_CIPHER_RETIRED_KEYS", raising=False)

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["run", *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stderr

    return invoke


def test_a_fresh_clone_stops_before_starting_and_says_which_key_and_what_to_do(isolation, carecoord_run, tmp_path):
    write_events(isolation.database_url, KEY_A)

    code, said = carecoord_run("--demo")

    assert code == 2
    kept = tmp_path / ".dev" / "event_cipher_key"
    assert said.count("\n") == 1, said  # one paragraph
    assert said.startswith(f"The database `{isolation.database}` on ")
    assert "holds events written with another key: intake.intake_events cannot be decrypted" in said
    assert f"this clone's development key ({kept}, made by `carecoord run` because EVENT_CIPHER_KEY is not set)" in said
    assert (f"(in EVENT_CIPHER_KEY, or in {kept}: the clone that ran the demo before keeps it in its own "
            ".dev/event_cipher_key; after a rotation, the earlier keys in EVENT_CIPHER_RETIRED_KEYS)") in said
    assert "reset it: `carecoord run --reset-demo-database`" in said
    assert said.rstrip().endswith("Nothing was started.")
    for secret in (KEY_A, kept.read_text().strip(), NAME):
        assert secret not in said


def test_a_key_set_in_the_environment_is_named_as_such_and_never_shown(isolation, carecoord_run, monkeypatch):
    write_events(isolation.database_url, KEY_A)
    monkeypatch.setenv("EVENT_CIPHER_KEY", KEY_B)

    code, said = carecoord_run()

    assert code == 2
    assert "cannot be decrypted with EVENT_CIPHER_KEY as set in the environment" in said
    assert KEY_A not in said and KEY_B not in said
    assert not Path(".dev/event_cipher_key").exists()


def test_the_key_that_wrote_the_events_or_an_empty_store_passes(isolation, monkeypatch):
    monkeypatch.delenv("EVENT_CIPHER_RETIRED_KEYS", raising=False)
    assert key_mismatch(isolation.database_url, SERVICES, KEY_B) is None  # no tables at all
    write_events(isolation.database_url, KEY_A)
    sql(isolation.database_url, "CREATE SCHEMA careplan; CREATE TABLE careplan.careplan_events "
                                "(originator_id uuid, originator_version bigint, state bytea)")  # empty

    assert key_mismatch(isolation.database_url, SERVICES, KEY_A) is None
    assert key_mismatch(isolation.database_url, SERVICES, KEY_B) is not None
    monkeypatch.setenv("EVENT_CIPHER_RETIRED_KEYS", KEY_A)  # rotated: the old key still reads them
    assert key_mismatch(isolation.database_url, SERVICES, KEY_B) is None


def test_a_service_given_another_key_refuses_to_start_and_one_given_the_right_key_does_not(isolation):
    write_events(isolation.database_url, KEY_A)

    def intake(key: str):
        return create_service(ServiceSettings(service_name="intake", database_url=isolation.database_url,
                                              amqp_url=isolation.amqp_url, event_cipher_key=key,
                                              jwt_dev_secret="key-check"))

    right = intake(KEY_A)
    try:
        refuse_events_written_with_another_key(right)
    finally:
        right.application.close()
    with pytest.raises(SystemExit) as stopped:
        run(intake(KEY_B))  # closes its application before exiting
    said = str(stopped.value.code)
    assert said.startswith("intake: The database ")
    assert "intake.intake_events cannot be decrypted with this service's EVENT_CIPHER_KEY" in said
    assert KEY_A not in said and KEY_B not in said and NAME not in said


def test_reset_demo_database_drops_and_recreates_it_and_the_run_then_reads_it(isolation):
    write_events(isolation.database_url, KEY_A)

    reset_demo_database(isolation.database_url, SERVICES)

    assert sql(isolation.database_url, "SELECT count(*) FROM information_schema.tables "
                                       "WHERE table_schema = 'intake'") == [(0,)]
    assert key_mismatch(isolation.database_url, SERVICES, KEY_B) is None


def test_reset_is_refused_for_a_database_that_holds_other_tables(isolation, carecoord_run):
    write_events(isolation.database_url, KEY_A)
    sql(isolation.database_url, "CREATE TABLE public.keep_me (id int)")

    code, said = carecoord_run("--reset-demo-database")

    assert code == 2
    assert f"not reset: `{isolation.database}` on " in said
    assert "holds tables besides the services' (in schema public)" in said
    assert "Nothing was dropped or started." in said
    assert sql(isolation.database_url, "SELECT count(*) FROM intake.intake_events") == [(1,)]


def test_reset_is_refused_while_another_session_uses_the_database(isolation):
    write_events(isolation.database_url, KEY_A)
    with psycopg.connect(isolation.database_url), pytest.raises(ResetRefused, match="in use by other sessions"):
        reset_demo_database(isolation.database_url, SERVICES)
    assert sql(isolation.database_url, "SELECT count(*) FROM intake.intake_events") == [(1,)]


def test_reset_never_reaches_a_database_on_another_machine():
    with pytest.raises(ResetRefused, match="not on this machine"):
        reset_demo_database("postgresql://postgres@db.agency.example:5432/carecoord", SERVICES)
