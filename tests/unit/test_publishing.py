"""Intake's domain events become integration events, never the other way round."""

from uuid import uuid4

import pytest

from services.intake.application import IntakeApplication
from services.intake.domain.person import Person
from services.intake.translation import TRANSLATIONS
from shared.contracts import CONTRACTS
from shared.contracts import intake as intake_contracts
from shared.relay import to_integration_event
from tests.unit.conftest import IN_MEMORY


def test_every_event_on_a_persons_stream_is_published():
    # An unpublished event would leave a gap in the person's sequence that consumers wait on.
    event_classes = {cls for cls in vars(Person).values() if isinstance(cls, type) and issubclass(cls, Person.Event)}
    never_triggered = {Person.Event, Person.Created}  # bases; Person.Registered is the created event
    assert event_classes - never_triggered == set(TRANSLATIONS)


def test_every_payload_intake_publishes_is_a_registered_contract_consumers_can_look_up():
    assert set(intake_contracts.PAYLOADS) <= set(CONTRACTS.values())


@pytest.fixture
def intake():
    application = IntakeApplication(env=IN_MEMORY)
    yield application
    application.close()


def test_the_envelope_carries_the_persons_sequence_and_a_stable_event_id(intake, provenance):
    person = intake.register_person("north", "42", "Sam", None, provenance)
    intake.record_screening(person.person_id, uuid4(), "PHQ-9", {"item1": 1, "item9": None}, provenance)
    notifications = intake.recorder.select_notifications(None, 10)

    def envelopes():
        return [
            to_integration_event("intake", n.id, event, TRANSLATIONS[type(event)](event)).event
            for n in notifications
            for event in [intake.mapper.to_domain_event(n)]
        ]

    first, second, scored = envelopes()
    assert (second.type, second.version, second.source, second.stream) == (
        "carecoord.intake.screening_recorded", 1, "intake", "intake.person")
    assert (second.person_id, second.person_sequence, second.position) == (person.person_id, 2, 2)
    assert second.payload["answers"] == {"item1": 1, "item9": "declined"}
    assert (second.correlation_id, second.actor.id, second.actor.role) == ("corr-1", "agency-7", "agency_system")
    assert scored.type == "carecoord.intake.screening_scored" and scored.person_sequence == 3
    assert scored.payload["flags"] == ["item9_unanswered"]
    assert [e.event_id for e in envelopes()] == [first.event_id, second.event_id, scored.event_id], "stable ids"
    assert first.event_id != second.event_id
