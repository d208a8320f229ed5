"""Intake's domain events become integration events, never the other way round."""

from uuid import uuid4

import pytest

from services.careplan.translation import timeline_entry
from services.intake.application import IntakeApplication
from services.intake.domain.person import Person
from services.intake.translation import TRANSLATIONS
from services.notifications.translation import notice_for
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

    first, second = envelopes()
    assert (second.type, second.version, second.source, second.stream) == (
        "carecoord.intake.screening_completed", 1, "intake", "intake.person")
    assert (second.person_id, second.person_sequence, second.position) == (person.person_id, 2, 2)
    assert second.payload["answers"] == {"item1": 1, "item9": "declined"}
    assert (second.payload["instrument"], second.payload["flags"]) == ("PHQ-9", ["item9_unanswered"])
    assert (second.correlation_id, second.actor.id, second.actor.role) == ("corr-1", "agency-7", "agency_system")
    assert [e.event_id for e in envelopes()] == [first.event_id, second.event_id], "stable ids"
    assert first.event_id != second.event_id


def test_a_screening_stored_as_two_events_still_replays_and_is_republished_as_it_was(intake, provenance):
    """Before screening_completed, a screening was ScreeningRecorded then ScreeningScored: stored
    histories keep them, and consumers still understand what they translate to."""
    person = Person("north", "42", "Sam", None, provenance)
    screening_id = uuid4()
    person._screening_recorded(screening_id, "PHQ-9", {"item1": 3}, None, provenance)
    person._screening_scored(screening_id, {"instrument": "PHQ-9", "domain": "mental_health", "total": 15,
                                            "band": "moderately severe", "positive": True, "flags": [],
                                            "complete": True}, provenance)
    intake.save(person)
    assert intake.get_person(person.id).screening_result(screening_id).positive is True
    payloads = [TRANSLATIONS[type(event)](event) for event in intake.events.get(person.id)]
    assert [p.event_type for p in payloads] == ["carecoord.intake.person_registered",
                                                "carecoord.intake.screening_recorded",
                                                "carecoord.intake.screening_scored"]
    assert notice_for(payloads[2]).kind == "screening_positive"
    kind, _ = timeline_entry(payloads[2])
    assert kind == "screening_scored"
