"""One command's bad input or bug never fails the other commands of its batch, nor half-records itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from uuid import uuid4

import pytest

from services.intake.application import (
    CommandFailed,
    RecordCrisisContact,
    RecordScreening,
    UnknownCommand,
)
from services.intake.domain.crisis import InvalidCrisisContact
from services.intake.domain.person import Person

GAD7 = {f"item{n}": 1 for n in range(1, 8)}


def test_a_crisis_contact_whose_follow_up_would_overflow_is_refused_and_the_batch_goes_on(intake, provenance):
    north = intake.register_person("north", "1", "Sam", None, provenance).person_id
    south = intake.register_person("south", "1", "Kai", None, provenance).person_id
    end_of_time = datetime(9999, 12, 31, 23, tzinfo=timezone.utc)
    outcomes = intake.execute_batch([
        RecordScreening(north, uuid4(), "GAD-7", GAD7, provenance),
        RecordCrisisContact(south, uuid4(), "crisis_line_call", end_of_time, "", [], "", "unknown", None, provenance),
        RecordScreening(north, uuid4(), "GAD-7", GAD7, provenance),
    ])
    assert isinstance(outcomes[1], InvalidCrisisContact) and outcomes[1].field == "occurred_at"
    assert outcomes[0].created and outcomes[2].created
    assert len(intake.get_person(north).screenings) == 2
    assert intake.get_person(south).crisis_contacts == {}


def test_an_unexpected_error_fails_its_command_alone_and_records_nothing_of_it(intake, provenance, monkeypatch):
    north = intake.register_person("north", "1", "Sam", None, provenance).person_id
    south = intake.register_person("south", "1", "Kai", None, provenance).person_id
    poisoned = uuid4()
    record_screening = Person.record_screening

    def records_then_fails(self, screening_id, *args, **kwargs):
        result = record_screening(self, screening_id, *args, **kwargs)
        if screening_id == poisoned:
            raise RuntimeError("a bug after the event was triggered")
        return result

    monkeypatch.setattr(Person, "record_screening", records_then_fails)
    before, after, theirs = uuid4(), uuid4(), uuid4()
    outcomes = intake.execute_batch([
        RecordScreening(south, before, "GAD-7", GAD7, provenance),
        RecordScreening(north, theirs, "GAD-7", GAD7, provenance),
        RecordScreening(south, poisoned, "GAD-7", GAD7, provenance),
        RecordScreening(south, after, "GAD-7", GAD7, provenance),
    ])
    assert isinstance(outcomes[2], CommandFailed)
    assert [outcome.created for i, outcome in enumerate(outcomes) if i != 2] == [True, True, True]
    assert list(intake.get_person(south).screenings) == [before, after], "nothing of the failed command"
    assert list(intake.get_person(north).screenings) == [theirs]
    assert intake.get_person(south).version == 3


def test_a_batch_that_cannot_be_saved_is_saved_command_by_command(intake, provenance, monkeypatch):
    """A save that fails for what one command wrote (not for the database) fails that command only."""
    north = intake.register_person("north", "1", "Sam", None, provenance).person_id
    south = intake.register_person("south", "1", "Kai", None, provenance).person_id
    unencodable = uuid4()
    to_stored_event = intake.mapper.to_stored_event

    def refuses_one(event):
        if getattr(event, "screening_id", None) == unencodable:
            raise TypeError("cannot encode")
        return to_stored_event(event)

    monkeypatch.setattr(intake.mapper, "to_stored_event", refuses_one)
    outcomes = intake.execute_batch([
        RecordScreening(north, uuid4(), "GAD-7", GAD7, provenance),
        RecordScreening(south, unencodable, "GAD-7", GAD7, provenance),
        RecordScreening(south, uuid4(), "GAD-7", GAD7, provenance),
    ])
    assert isinstance(outcomes[1], CommandFailed)
    assert outcomes[0].created and outcomes[2].created
    assert len(intake.get_person(north).screenings) == 1 and len(intake.get_person(south).screenings) == 1


@dataclass(frozen=True)
class ForgetEveryone:
    """A command intake has no handler for (and, unlike every real one, about no person)."""

    reason: str


def test_a_command_of_a_type_intake_has_no_handler_for_is_refused_and_the_batch_goes_on(intake, provenance):
    north = intake.register_person("north", "1", "Sam", None, provenance).person_id
    south = intake.register_person("south", "1", "Kai", None, provenance).person_id
    outcomes = intake.execute_batch([
        RecordScreening(north, uuid4(), "GAD-7", GAD7, provenance),
        ForgetEveryone("a test"),
        RecordScreening(south, uuid4(), "GAD-7", GAD7, provenance),
    ])
    assert isinstance(outcomes[1], UnknownCommand)
    assert str(outcomes[1]) == "intake has no handler for ForgetEveryone commands; nothing of it was recorded"
    assert outcomes[0].created and outcomes[2].created
    assert len(intake.get_person(north).screenings) == 1 and len(intake.get_person(south).screenings) == 1
    with pytest.raises(UnknownCommand, match="ForgetEveryone"):
        intake.execute(ForgetEveryone("a test"))
