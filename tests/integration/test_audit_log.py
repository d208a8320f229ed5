"""`carecoord audit`: a service's event log checkpointed, verified and proven as an auditor sees it.
Tampering is done the way someone with write access to PostgreSQL would: rows edited, deleted,
inserted and swapped, the tail cut off; `verify` names the first position and what happened."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from typer.testing import CliRunner

from carecoord.cli import app
from services.intake.application import IntakeApplication
from services.intake.bootstrap import IntakeSettings
from shared.checkpoints import NoteSigner
from shared.cipher import new_key
from shared.domain import Provenance
from shared.eventstore import ensure_schema

PROVENANCE = Provenance("agency-7", "agency_system", "corr-audit")
EVENTS = "intake.intake_events"
# Intake's event key: proving a person's records records that read in intake's store, which needs it.
KEY = new_key()


@pytest.fixture
def intake(isolation):
    settings = IntakeSettings(database_url=isolation.database_url, event_cipher_key=KEY)
    ensure_schema(settings)
    application = IntakeApplication(env=settings.eventsourcing_env())
    yield application
    application.close()


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner.generate("audit-test")


@pytest.fixture
def audit(isolation, signer, monkeypatch, tmp_path):
    """Runs `carecoord audit ...` against the test's database; (exit code, stdout)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", isolation.database_url)
    monkeypatch.setenv("AUDIT_SIGNING_KEY", signer.text())
    monkeypatch.setenv("EVENT_CIPHER_KEY", KEY)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["audit", *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout

    return run


def register(intake: IntakeApplication, count: int, start: int = 0) -> list[uuid.UUID]:
    people = []
    for n in range(start, start + count):
        person = intake.register_person("north", f"audit-{n}", f"Person {n}", None, PROVENANCE)
        intake.record_screening(person.person_id, uuid.uuid4(), "PHQ-9", {"item1": 1}, PROVENANCE)
        people.append(person.person_id)
    return people


def sql(isolation, statement: str, *params) -> list[tuple]:
    with psycopg.connect(isolation.database_url, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def positions(isolation) -> list[int]:
    return [p for (p,) in sql(isolation, f"SELECT notification_id FROM {EVENTS} ORDER BY notification_id")]


def test_a_clean_log_verifies_and_later_records_are_reported_as_not_yet_checkpointed(intake, audit):
    assert audit("checkpoint")[1].split("\n")[1] == "0"  # the empty tree
    register(intake, 5)
    code, note = audit("checkpoint")
    assert code == 0 and note.split("\n")[:2] == ["carecoord.local/intake", "10"]
    register(intake, 2, start=5)
    assert audit("checkpoint")[0] == 0
    register(intake, 1, start=7)

    code, out = audit("verify")
    assert code == 0, out
    assert "OK intake: 16 records, consistent with 3 checkpoints (largest size 14); 2 records after" in out


def test_a_service_without_a_log_here_is_named(audit):
    code, _ = audit("verify", "--service", "careplan")
    assert code == 2


def test_an_edited_record_is_named_by_its_position(intake, audit, isolation):
    register(intake, 6)
    audit("checkpoint")
    fifth = positions(isolation)[4]
    sql(isolation, f"UPDATE {EVENTS} SET state = state || '\\x00'::bytea WHERE notification_id = %s", fifth)

    code, out = audit("verify")
    assert code == 1
    assert f"FAILED intake: edited at position {fifth} (leaf 4)" in out


def test_a_deleted_record_is_named_by_its_position(intake, audit, isolation):
    register(intake, 6)
    audit("checkpoint")
    seventh = positions(isolation)[6]
    sql(isolation, f"DELETE FROM {EVENTS} WHERE notification_id = %s", seventh)

    code, out = audit("verify")
    assert code == 1
    assert f"FAILED intake: deleted at position {seventh} (leaf 6)" in out


def test_an_inserted_record_is_named_by_its_position(intake, audit, isolation):
    register(intake, 3)
    # Positions have gaps where a transaction rolled back; someone may write into one.
    sql(isolation, "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), "
                   "(SELECT max(notification_id) + 5 FROM intake.intake_events))", EVENTS)
    register(intake, 3, start=3)
    audit("checkpoint")
    gap = positions(isolation)[5] + 2
    sql(isolation, f"INSERT INTO {EVENTS} (notification_id, originator_id, originator_version, topic, state) "
                   f"SELECT %s, %s, 1, topic, state FROM {EVENTS} ORDER BY notification_id LIMIT 1",
        gap, uuid.uuid4())

    code, out = audit("verify")
    assert code == 1
    assert f"FAILED intake: inserted at position {gap} (leaf 6)" in out


def test_swapped_records_are_named_as_reordered(intake, audit, isolation):
    register(intake, 6)
    audit("checkpoint")
    stored = positions(isolation)
    third, ninth = stored[2], stored[8]
    for old, new in ((third, -1), (ninth, third), (-1, ninth)):
        sql(isolation, f"UPDATE {EVENTS} SET notification_id = %s WHERE notification_id = %s", new, old)

    code, out = audit("verify")
    assert code == 1
    assert f"FAILED intake: reordered at position {third} (leaf 2)" in out


def test_a_log_cut_back_below_a_checkpoint_is_caught_even_when_its_audit_tables_are_cut_too(intake, audit,
                                                                                          isolation, tmp_path):
    register(intake, 6)
    audit("checkpoint")
    assert audit("export", "--out", str(tmp_path / "kept"))[0] == 0
    [kept] = list((tmp_path / "kept").iterdir())
    eighth = positions(isolation)[7]
    sql(isolation, f"DELETE FROM {EVENTS} WHERE notification_id >= %s", eighth)

    code, out = audit("verify")
    assert code == 1
    assert f"FAILED intake: truncated at position {eighth} (leaf 7)" in out

    # The audit tables refuse changes; a superuser who takes the trigger off can empty them, but
    # not the checkpoint kept elsewhere.
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        sql(isolation, "DELETE FROM intake.audit_checkpoints")
    sql(isolation, "ALTER TABLE intake.audit_checkpoints DISABLE TRIGGER audit_append_only; "
                   "ALTER TABLE intake.audit_leaves DISABLE TRIGGER audit_append_only; "
                   "DELETE FROM intake.audit_checkpoints; DELETE FROM intake.audit_leaves WHERE leaf_index >= 7")
    assert audit("verify")[0] == 0, "nothing stored is left to verify against"

    code, out = audit("verify", "--checkpoint", str(kept))
    assert code == 1
    assert "FAILED intake: truncated at leaf 7: the log has 7 records" in out


def test_when_the_kept_leaf_hashes_were_rewritten_too_verify_gives_the_range(intake, audit, isolation):
    register(intake, 4)
    audit("checkpoint")
    register(intake, 4, start=4)
    audit("checkpoint")
    tenth = positions(isolation)[9]
    sql(isolation, f"UPDATE {EVENTS} SET state = state || '\\x00'::bytea WHERE notification_id = %s", tenth)
    sql(isolation, "ALTER TABLE intake.audit_leaves DISABLE TRIGGER audit_append_only; "
                   "UPDATE intake.audit_leaves SET leaf_hash = sha256(leaf_hash) WHERE leaf_index = 9")

    code, out = audit("verify")
    assert code == 1
    assert "FAILED intake: changed at leaf 8: " in out and "among leaves 8 to 15" in out


def test_a_checkpoint_signed_by_another_key_is_refused(intake, audit, tmp_path):
    register(intake, 2)
    forged = NoteSigner.generate("audit-test").sign(
        __import__("shared.checkpoints", fromlist=["Checkpoint"]).Checkpoint("carecoord.local/intake", 4, b"\0" * 32))
    (tmp_path / "forged").write_text(forged)
    code, out = audit("verify", "--checkpoint", str(tmp_path / "forged"))
    assert code == 1 and "checkpoint refused" in out and "no signature by audit-test" in out


def test_an_outsider_checks_a_persons_records_against_a_checkpoint(intake, audit, isolation, signer, tmp_path):
    people = register(intake, 5)
    audit("checkpoint")
    register(intake, 3, start=5)
    code, note = audit("checkpoint")
    (tmp_path / "kept.checkpoint").write_text(note)

    code, out = audit("prove", str(people[1]), "--checkpoint", str(tmp_path / "kept.checkpoint"))
    assert code == 0, out
    document = json.loads(out)
    assert document["tree_size"] == 16
    assert [(p["leaf_index"], p["originator_version"]) for p in document["proofs"]] == [(2, 1), (3, 2)]
    (tmp_path / "proof.json").write_text(out)
    vkey = signer.verifier().vkey()
    assert audit("check-proof", str(tmp_path / "proof.json"), "--key", vkey) == (
        0, "OK: every record is in the signed tree\n")

    code, one = audit("prove", f"{people[1]}:2")
    assert code == 0 and [p["leaf_index"] for p in json.loads(one)["proofs"]] == [3]

    # A proof of a record changed since is refused by the outsider.
    sql(isolation, f"UPDATE {EVENTS} SET state = state || '\\x00'::bytea WHERE originator_id = %s", people[1])
    code, out = audit("prove", str(people[1]))
    (tmp_path / "changed.json").write_text(out)
    code, out = audit("check-proof", str(tmp_path / "changed.json"), "--key", vkey)
    assert code == 1 and "FAILED: leaf 2 (position" in out


def test_a_record_after_the_last_checkpoint_cannot_be_proven_yet(intake, audit):
    register(intake, 1)
    audit("checkpoint")
    [later] = register(intake, 1, start=1)
    code, _ = audit("prove", str(later))
    assert code == 2


def test_an_outsider_checks_that_a_new_checkpoint_extends_the_one_they_kept(intake, audit, isolation, signer,
                                                                            tmp_path):
    register(intake, 3)
    (tmp_path / "old").write_text(audit("checkpoint")[1])
    register(intake, 4, start=3)
    audit("checkpoint")
    vkey = signer.verifier().vkey()

    code, out = audit("consistency", str(tmp_path / "old"))
    assert code == 0, out
    (tmp_path / "proof.json").write_text(out)
    assert audit("check-proof", str(tmp_path / "proof.json"), "--key", vkey) == (
        0, "OK: the newer tree extends the older one\n")

    # A log rewritten below the old checkpoint and signed again does not extend it.
    sql(isolation, f"UPDATE {EVENTS} SET state = state || '\\x00'::bytea WHERE notification_id = "
                   f"(SELECT min(notification_id) FROM {EVENTS})")
    sql(isolation, "ALTER TABLE intake.audit_checkpoints DISABLE TRIGGER audit_append_only; "
                   "ALTER TABLE intake.audit_leaves DISABLE TRIGGER audit_append_only; "
                   "DELETE FROM intake.audit_checkpoints; DELETE FROM intake.audit_leaves")
    audit("checkpoint")
    (tmp_path / "forked.json").write_text(audit("consistency", str(tmp_path / "old"))[1])
    code, out = audit("check-proof", str(tmp_path / "forked.json"), "--key", vkey)
    assert code == 1 and "does not extend the tree of size 6" in out


def test_a_proof_file_that_is_not_there_is_named_in_a_usage_error(audit, tmp_path):
    code, _ = audit("check-proof", str(tmp_path / "missing.json"), "--key", "log+00000000+AAAA")

    assert code == 2  # typer's usage error, which names the file on stderr; no traceback
