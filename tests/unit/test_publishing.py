"""Services' domain events become integration events, never the other way round."""

import importlib
import sys
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate

from services.careplan import translation as careplan_translations
from services.careplan.domain.care_team import CareTeam
from services.careplan.domain.crisis_follow_ups import CrisisFollowUps
from services.careplan.domain.medication import MedicationCollaboration
from services.careplan.domain.plan_changes import PlanChanges
from services.careplan.translation import timeline_entry
from services.intake.application import IntakeApplication
from services.intake.domain.person import Person
from services.intake import translation as intake_translations
from services.intake.translation import TRANSLATIONS
from services.notifications.translation import notice_for
from shared.contracts import CONTRACTS
from shared.contracts import intake as intake_contracts
from shared.relay import to_integration_event
from tests.support.history import store_as_recorded
from tests.unit.conftest import IN_MEMORY


def published_aggregates(translations) -> set[type]:
    """The aggregates the relay publishes: each one with at least one translated event (the relay
    selects by event topic, so the others stay in the service's log)."""
    return {getattr(sys.modules[event_class.__module__], event_class.__qualname__.split(".")[0])
            for event_class in translations}


def event_classes(aggregate: type) -> set[type]:
    """The events an aggregate can record: its nested subclasses of its `Event`, less the bases it
    never triggers (`Event`, and `Created` when the aggregate names its own created event)."""
    nested = {cls for cls in vars(aggregate).values() if isinstance(cls, type) and issubclass(cls, aggregate.Event)}
    named_created = {cls for cls in nested if issubclass(cls, Aggregate.Created) and cls is not aggregate.Created}
    return nested - {aggregate.Event} - ({aggregate.Created} if named_created else set())


PUBLISHING_SERVICES = {
    "intake": (intake_translations.TRANSLATIONS, {Person}),
    "careplan": (careplan_translations.TRANSLATIONS, {CareTeam, MedicationCollaboration, CrisisFollowUps,
                                                       PlanChanges}),
}


def test_every_service_with_translations_is_checked():
    services = Path(__file__).parents[2] / "services"
    with_translations = {module.parent.name for module in services.glob("*/translation.py")
                         if hasattr(importlib.import_module(f"services.{module.parent.name}.translation"), "TRANSLATIONS")}
    assert with_translations == set(PUBLISHING_SERVICES)


@pytest.mark.parametrize("service", PUBLISHING_SERVICES)
def test_every_event_on_a_published_stream_is_published(service):
    # Consumers apply a stream by sequence (the aggregate's version): an unpublished event would leave
    # a gap they wait on forever, so no event of a published aggregate may be kept private.
    translations, expected_aggregates = PUBLISHING_SERVICES[service]
    aggregates = published_aggregates(translations)
    assert aggregates == expected_aggregates
    for aggregate in aggregates:
        untranslated = event_classes(aggregate) - set(translations)
        assert not untranslated, f"{service} publishes {aggregate.__name__} but not {sorted(c.__name__ for c in untranslated)}"


def test_the_check_sees_every_event_an_aggregate_records(provenance):
    team = CareTeam(uuid4(), provenance)
    team.add_member("clinician-1", "clinician", provenance)
    team.remove_member("clinician-1", provenance)
    team.join_from_merged_team(str(uuid4()), {"coordinator-2": "care_coordinator"}, provenance)
    recorded = {type(event) for event in team.collect_events()}
    assert recorded == event_classes(CareTeam) == {CareTeam.Formed, CareTeam.MemberJoined, CareTeam.MemberLeft,
                                                   CareTeam.MemberJoinedThroughMerge}


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
    intake.save(person)
    screening_id = uuid4()
    store_as_recorded(intake, person.id, [
        ("services.intake.domain.person:Person.ScreeningRecorded",
         {"screening_id": screening_id, "instrument": "PHQ-9", "answers": {"item1": 3}, "sex": None,
          "provenance": provenance}),
        ("services.intake.domain.person:Person.ScreeningScored",
         {"screening_id": screening_id, "provenance": provenance,
          "result": {"instrument": "PHQ-9", "domain": "mental_health", "total": 15, "band": "moderately severe",
                     "positive": True, "flags": [], "complete": True}}),
    ], first_version=2)
    assert intake.get_person(person.id).screening_result(screening_id).positive is True
    payloads = [TRANSLATIONS[type(event)](event) for event in intake.events.get(person.id)]
    assert [p.event_type for p in payloads] == ["carecoord.intake.person_registered",
                                                "carecoord.intake.screening_recorded",
                                                "carecoord.intake.screening_scored"]
    assert notice_for(payloads[2]).kind == "screening_positive"
    kind, _ = timeline_entry(payloads[2])
    assert kind == "screening_scored"
