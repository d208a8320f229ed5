from uuid import uuid4

import pytest

from services.intake.application import PersonNotFound, RecordScreening, RegisterPerson
from services.intake.domain.person import Person
from services.intake.domain.refusals import NoAnswers
from services.intake.domain.scoring import InvalidAnswers


def test_registering_the_same_agency_record_twice_returns_the_first_person(intake, provenance):
    first = intake.register_person("north", "42", "Sam", None, provenance)
    again = intake.register_person("north", "42", "Samuel", None, provenance)
    assert first.created and not again.created
    assert again.person_id == first.person_id
    assert intake.get_person(first.person_id).preferred_name == "Sam"


def test_the_same_record_at_two_agencies_is_two_people_until_merged(intake, provenance):
    north = intake.register_person("north", "42", "Sam", None, provenance)
    south = intake.register_person("south", "42", "Sam", None, provenance)
    assert north.person_id != south.person_id


def test_a_screening_with_the_same_id_is_recorded_once(intake, provenance):
    person = intake.register_person("north", "42", "Sam", None, provenance)
    screening_id = uuid4()
    first = intake.record_screening(person.person_id, screening_id, "PHQ-9", {"item1": 2, "item9": None}, provenance)
    again = intake.record_screening(person.person_id, screening_id, "PHQ-9", {"item1": 3}, provenance)
    assert first.created and not again.created
    events = intake.repository.get(person.person_id).version
    assert events == 2, "registration, then one screening (answers and score in one event)"


def test_declined_answers_are_recorded_as_declined_not_dropped(intake, provenance):
    person = intake.register_person("north", "42", "Sam", None, provenance)
    intake.record_screening(person.person_id, uuid4(), "PHQ-9", {"item1": 2, "item9": None}, provenance)
    [_, recorded] = [intake.mapper.to_domain_event(n) for n in intake.recorder.select_notifications(None, 10)]
    assert recorded.answers == {"item1": 2, "item9": None}
    assert recorded.provenance == provenance


def test_unknown_instruments_and_empty_screenings_are_refused_and_nothing_is_recorded(intake, provenance):
    person = intake.register_person("north", "42", "Sam", None, provenance)
    with pytest.raises(InvalidAnswers, match="PHQ-99"):
        intake.record_screening(person.person_id, uuid4(), "PHQ-99", {"item1": 1}, provenance)
    with pytest.raises(NoAnswers):
        intake.record_screening(person.person_id, uuid4(), "GAD-7", {}, provenance)
    assert intake.recorder.max_notification_id() == 1


def test_screening_an_unknown_person_says_so(intake, provenance):
    with pytest.raises(PersonNotFound):
        intake.record_screening(Person.create_id("north", "nobody"), uuid4(), "GAD-7", {"item1": 0}, provenance)


def test_a_refused_command_in_a_batch_does_not_stop_the_others(intake, provenance):
    person = intake.register_person("north", "42", "Sam", None, provenance)
    outcomes = intake.execute_batch([
        RecordScreening(person.person_id, uuid4(), "PHQ-99", {"item1": 1}, provenance),
        RecordScreening(person.person_id, uuid4(), "GAD-7", {"item1": 1}, provenance),
        RecordScreening(Person.create_id("north", "nobody"), uuid4(), "GAD-7", {"item1": 1}, provenance),
    ])
    assert isinstance(outcomes[0], InvalidAnswers)
    assert outcomes[1].created
    assert isinstance(outcomes[2], PersonNotFound)
    assert list(intake.get_person(person.person_id).screenings) == [outcomes[1].screening_id]


def test_the_same_record_registered_twice_in_one_batch_is_one_person(intake, provenance):
    first, second = intake.execute_batch([
        RegisterPerson("north", "42", "Sam", None, provenance),
        RegisterPerson("north", "42", "Sam", None, provenance),
    ])
    assert first.created and not second.created and first.person_id == second.person_id


def test_a_crisis_contact_is_due_a_follow_up_within_24_hours_or_7_days_after_a_discharge(intake, provenance):
    from datetime import datetime, timedelta, timezone

    from services.intake.application import RecordCrisisContact

    person = intake.register_person("north", "42", "Sam", None, provenance)
    at = datetime(2026, 11, 20, 22, 15, tzinfo=timezone.utc)

    def contact(kind, due=None):
        return RecordCrisisContact(person.person_id, uuid4(), kind, at, "home", ["mobile team"],
                                   "talked it through; grounding", "resolved_in_community", due, provenance)

    crisis_line, discharge, agreed = intake.execute_batch([
        contact("crisis_line_call"), contact("hospital_discharge"), contact("mobile_crisis_visit", at + timedelta(hours=4)),
    ])
    assert crisis_line.follow_up_due == at + timedelta(hours=24)
    assert discharge.follow_up_due == at + timedelta(days=7)
    assert agreed.follow_up_due == at + timedelta(hours=4)


def test_a_crisis_contact_with_an_unknown_kind_or_a_follow_up_before_it_is_refused(intake, provenance):
    from datetime import datetime, timedelta, timezone

    from services.intake.application import RecordCrisisContact
    from services.intake.domain.crisis import InvalidCrisisContact

    person = intake.register_person("north", "42", "Sam", None, provenance)
    at = datetime(2026, 11, 20, 22, 15, tzinfo=timezone.utc)
    unknown, too_early = intake.execute_batch([
        RecordCrisisContact(person.person_id, uuid4(), "séance", at, "", [], "", "unknown", None, provenance),
        RecordCrisisContact(person.person_id, uuid4(), "crisis_line_call", at, "", [], "", "unknown",
                            at - timedelta(hours=1), provenance),
    ])
    assert isinstance(unknown, InvalidCrisisContact) and unknown.field == "kind"
    assert isinstance(too_early, InvalidCrisisContact) and too_early.field == "follow_up_due"
    assert intake.get_person(person.person_id).crisis_contacts == {}


def test_a_date_of_birth_pronouns_and_language_are_kept_and_details_can_be_amended(intake, provenance):
    from datetime import date

    from services.intake.application import AmendDetails
    from services.intake.domain.refusals import UnknownDetail

    registered = intake.execute(RegisterPerson("north", "42", "Sam", date(1990, 5, 17), provenance, "they/them", "es"))
    amended = intake.execute(AmendDetails(registered.person_id, {"preferred_name": "Sammy", "preferred_language": "es"},
                                          provenance))
    assert amended.changed == ["preferred_name"], "only what changed is recorded"
    person = intake.get_person(registered.person_id)
    assert (person.preferred_name, person.pronouns, person.preferred_language, person.date_of_birth) == (
        "Sammy", "they/them", "es", date(1990, 5, 17))
    [refused] = intake.execute_batch([AmendDetails(registered.person_id, {"agency_person_id": "99"}, provenance)])
    assert isinstance(refused, UnknownDetail)
