"""The event store on PostgreSQL: a batch is recorded whole or not at all, and its commit tells
the log's followers which topics it recorded."""

from __future__ import annotations

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from services.intake.application import IntakeApplication
from services.intake.bootstrap import IntakeSettings
from services.intake.domain.person import Person
from shared.cipher import new_key
from shared.domain import Provenance
from shared.eventstore import ensure_schema

PROVENANCE = Provenance("agency-7", "agency_system", "corr-store")


@pytest.fixture
def intake(isolation):
    settings = IntakeSettings(database_url=isolation.database_url, event_cipher_key=new_key())
    ensure_schema(settings)
    application = IntakeApplication(env=settings.eventsourcing_env())
    yield application
    application.close()


def test_a_commit_notifies_the_topics_it_recorded(intake, isolation):
    with psycopg.connect(isolation.database_url, autocommit=True) as listener:
        listener.execute("LISTEN intake_events")
        intake.register_person("north", "store-1", "Ari", None, PROVENANCE)
        [notification] = list(listener.notifies(timeout=10, stop_after=1))
    assert notification.payload == "services.intake.domain.person:Person.Registered"


def test_a_batch_whose_tracking_was_recorded_before_records_none_of_its_events(intake):
    first, second = Person("north", "store-2", "Bo", None, PROVENANCE), Person("north", "store-3", "Cy", None, PROVENANCE)
    intake.record(first, trackings=[Tracking("careplan", 41), Tracking("careplan", 42)])

    with pytest.raises(IntegrityError):
        intake.record(second, trackings=[Tracking("careplan", 43), Tracking("careplan", 42)])

    assert intake.recorder.max_tracking_id("careplan") == 42, "tracking 43 was not kept either"
    assert [e.originator_id for e in intake.events.get(first.id)] == [first.id]
    assert list(intake.events.get(second.id)) == []
