"""The event store on PostgreSQL: a batch is recorded whole or not at all, and its commit tells
the log's followers which topics it recorded."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.utils import get_topic

from services.intake.application import IntakeApplication
from services.intake.bootstrap import IntakeSettings
from services.intake.domain.person import Person
from shared.cipher import new_key
from shared.domain import Provenance
from shared.eventstore import ensure_schema
from shared.log_reading import PostgresLogReader, log_reader

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


async def test_the_log_reader_reads_past_other_topics_to_the_end_of_the_log_in_one_statement(intake, isolation):
    registered, completed = (get_topic(Person.Registered), get_topic(Person.ScreeningCompleted))
    first = intake.register_person("north", "log-1", "Di", None, PROVENANCE)
    intake.record_screening(first.person_id, uuid.uuid4(), "PHQ-9", {"item1": 1}, PROVENANCE)
    intake.register_person("north", "log-2", "Ed", None, PROVENANCE)
    reader = log_reader(intake, asyncio.to_thread, isolation.database_url)
    assert isinstance(reader, PostgresLogReader)
    try:
        notifications, read_to = await reader.read(0, 10, [completed])
        assert ([n.topic for n in notifications], read_to) == ([completed], 3), "read past the last registration"
        assert await reader.read(read_to, 10, [completed]) == ([], 3)

        notifications, read_to = await reader.read(0, 1, [registered, completed])
        assert ([n.id for n in notifications], read_to) == ([1], 1), "a full batch stops at its last event"
        notifications, read_to = await reader.read(0, 10, [registered], stop=2)
        assert ([n.id for n in notifications], read_to) == ([1], 2)
        assert intake.mapper.to_domain_event(notifications[0]).preferred_name == "Di"
    finally:
        await reader.close()
