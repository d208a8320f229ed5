"""An id derived from an idempotency key records one request: a different request under it is refused."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4

import pytest

from services.intake.application import GrantConsent, IntakeApplication, RecordCrisisContact, RecordScreening
from services.intake.domain.refusals import IdempotencyKeyReused
from tests.unit.conftest import IN_MEMORY

AT = datetime(2026, 11, 20, 22, 15, tzinfo=timezone.utc)


@pytest.fixture
def intake():
    application = IntakeApplication(env=IN_MEMORY)
    yield application
    application.close()


def test_a_repeat_with_the_same_fingerprint_is_a_repeat_and_another_is_refused(intake, provenance):
    person = intake.register_person("north", "42", "Sam", None, provenance).person_id
    screening, contact, directive = uuid4(), uuid4(), "directive-1"

    def commands(fingerprint):
        return [
            RecordScreening(person, screening, "GAD-7", {"item1": 1}, provenance, fingerprint=fingerprint),
            RecordCrisisContact(person, contact, "crisis_line_call", AT, "home", [], "", "unknown", None, provenance,
                                fingerprint=fingerprint),
            GrantConsent(person, directive, "care_team", None, ["general"], AT, None, provenance,
                         fingerprint=fingerprint),
        ]

    first = intake.execute_batch(commands("a" * 64))
    repeat = intake.execute_batch(commands("a" * 64))
    different = intake.execute_batch(commands("b" * 64))
    unknown = intake.execute_batch(commands(None))  # a caller that cannot say: treated as the same
    assert [outcome.created for outcome in first] == [True, True, True]
    assert [outcome.created for outcome in repeat] == [False, False, False]
    assert all(isinstance(outcome, IdempotencyKeyReused) for outcome in different), different
    assert [outcome.created for outcome in unknown] == [False, False, False]
    assert intake.get_person(person).version == 4, "registration and the three first requests only"


def test_a_record_stored_without_a_fingerprint_takes_any_repeat_as_the_same_request(intake, provenance):
    """Records from before fingerprints were kept cannot tell a different request from a repeat."""
    person = intake.register_person("north", "42", "Sam", None, provenance).person_id
    screening = uuid4()
    [first] = intake.execute_batch([RecordScreening(person, screening, "GAD-7", {"item1": 1}, provenance)])
    [again] = intake.execute_batch([RecordScreening(person, screening, "GAD-7", {"item1": 2}, provenance,
                                                    fingerprint="c" * 64)])
    assert first.created and not again.created and again.result == first.result
