"""Merging duplicates registered by two agencies: both records and both histories are kept."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4

import pytest

from services.intake.application import (
    AmendDetails,
    GrantConsent,
    IntakeApplication,
    MergePeople,
    PersonNotFound,
    RecordCrisisContact,
    RecordScreening,
    RegisterPerson,
    RevokeConsent,
)
from services.intake.domain.person import Person
from services.intake.domain.refusals import CannotMerge, MergedAway
from shared.access import NotVisible, Principal, Right, Role, authorize
from shared.domain import Provenance

AT = datetime(2026, 11, 20, 22, 15, tzinfo=timezone.utc)


@pytest.fixture
def merger() -> Provenance:
    return Provenance(actor_id="alex", actor_role="care_coordinator", correlation_id="corr-merge")


def person(agency: str, record: str, provenance: Provenance) -> Person:
    return Person(agency, record, "Sam", None, provenance)


def history(intake: IntakeApplication, person_id) -> list[str]:
    return [type(event).__name__ for event in intake.events.get(person_id)]


# The domain's rules, on two aggregates in memory.


def test_a_merge_records_a_fact_on_each_person_and_the_survivor_answers_to_both_agency_records(provenance, merger):
    north, south = person("north", "42", provenance), person("south", "S-7", provenance)
    assert north.merge_duplicate(south, "same name, birth date and address", merger)
    [merged_into] = south.collect_events()[1:]
    [duplicate_merged] = north.collect_events()[1:]
    assert (type(merged_into).__name__, merged_into.survivor_id, merged_into.provenance) == (
        "MergedInto", north.id, merger)
    assert (type(duplicate_merged).__name__, duplicate_merged.duplicate_id, duplicate_merged.duplicate_agency,
            duplicate_merged.duplicate_agency_person_id, duplicate_merged.reason, duplicate_merged.provenance) == (
        "DuplicateMerged", south.id, "south", "S-7", "same name, birth date and address", merger)
    assert north.agency_identities == [("north", "42"), ("south", "S-7")]
    assert north.merged_duplicates == {south.id: "same name, birth date and address"}
    assert (south.merged_into, north.merged_into) == (north.id, None)
    assert (south.agency, south.agency_person_id) == ("south", "S-7"), "the duplicate's own record is unchanged"


def test_a_person_cannot_be_merged_into_themselves(provenance, merger):
    north = person("north", "42", provenance)
    with pytest.raises(CannotMerge) as refused:
        north.merge_duplicate(north, "oops", merger)
    assert refused.value.field == "duplicate_id"
    assert len(north.collect_events()) == 1, "nothing recorded"


def test_a_merge_needs_a_reason(provenance, merger):
    north, south = person("north", "42", provenance), person("south", "S-7", provenance)
    with pytest.raises(CannotMerge) as refused:
        north.merge_duplicate(south, "  ", merger)
    assert refused.value.field == "reason"
    assert south.merged_into is None


def test_merging_the_same_pair_again_is_a_no_op(provenance, merger):
    north, south = person("north", "42", provenance), person("south", "S-7", provenance)
    assert north.merge_duplicate(south, "same person", merger)
    north.collect_events(), south.collect_events()
    assert not north.merge_duplicate(south, "said again, differently", merger)
    assert north.collect_events() == [] and south.collect_events() == []
    assert north.merged_duplicates[south.id] == "same person", "the first reason stands"


def test_a_person_already_merged_into_someone_else_cannot_be_merged_again(provenance, merger):
    north, south, east = (person(a, "1", provenance) for a in ("north", "south", "east"))
    north.merge_duplicate(south, "same person", merger)
    with pytest.raises(MergedAway) as refused:
        east.merge_duplicate(south, "same person", merger)
    assert (refused.value.field, refused.value.person_id, refused.value.survivor_id) == ("duplicate_id", south.id, north.id)
    assert east.agency_identities == [("east", "1")]


def test_nobody_can_be_merged_into_a_survivor_that_is_itself_merged_away(provenance, merger):
    north, south, east = (person(a, "1", provenance) for a in ("north", "south", "east"))
    north.merge_duplicate(south, "same person", merger)
    with pytest.raises(MergedAway) as refused:
        south.merge_duplicate(east, "same person", merger)
    assert (refused.value.field, refused.value.person_id, refused.value.survivor_id) == ("survivor_id", south.id, north.id)
    assert east.merged_into is None
    with pytest.raises(MergedAway):
        south.merge_duplicate(north, "the other way round", merger)


def test_a_merged_away_record_records_nothing_new(provenance, merger):
    north, south = person("north", "42", provenance), person("south", "S-7", provenance)
    south.grant_consent("d-1", "care_team", None, ["general"], AT, None, provenance)
    north.merge_duplicate(south, "same person", merger)
    attempts = {
        "screening": lambda: south.record_screening(uuid4(), "GAD-7", {"item1": 1}, provenance),
        "crisis contact": lambda: south.record_crisis_contact(uuid4(), "crisis_line_call", AT, "", [], "",
                                                               "unknown", None, provenance),
        "consent": lambda: south.grant_consent("d-2", "care_team", None, ["general"], AT, None, provenance),
        "revocation": lambda: south.revoke_consent("d-1", AT, provenance),
        "amendment": lambda: south.amend_details({"pronouns": "she/her"}, provenance),
    }
    for what, attempt in attempts.items():
        with pytest.raises(MergedAway) as refused:
            attempt()
        assert refused.value.survivor_id == north.id, what
    assert south.grant_consent("d-1", "care_team", None, ["general"], AT, None, provenance) is False, (
        "a repeat of what was recorded before the merge still answers as before")


def test_a_survivor_answers_to_the_records_its_duplicate_had_absorbed(provenance, merger):
    north, south, east = (person(a, "1", provenance) for a in ("north", "south", "east"))
    south.merge_duplicate(east, "same person", merger)
    north.merge_duplicate(south, "same person", merger)
    assert north.agency_identities == [("north", "1"), ("south", "1"), ("east", "1")]
    assert list(north.merged_duplicates) == [south.id], "the duplicates merged here; east went to south"


# The application (in memory and on PostgreSQL): both people saved together, refusals, and commands to a
# merged-away record.


def _two_agencies(intake, provenance):
    north = intake.execute(RegisterPerson("north", "42", "Sam", None, provenance)).person_id
    south = intake.execute(RegisterPerson("south", "S-7", "Sammy", None, provenance)).person_id
    return north, south


def test_the_application_saves_both_histories_and_repeats_record_nothing(intake, provenance, merger):
    north, south = _two_agencies(intake, provenance)
    intake.execute(RecordScreening(south, uuid4(), "GAD-7", {"item1": 1}, provenance))
    before = intake.recorder.max_notification_id()
    receipt = intake.execute(MergePeople(north, south, "same person", merger))
    assert (receipt.survivor_id, receipt.duplicate_id, receipt.reason, receipt.created) == (north, south, "same person", True)
    assert receipt.agency_identities == [("north", "42"), ("south", "S-7")]
    assert intake.recorder.max_notification_id() == before + 2, "one event on each stream"
    assert history(intake, north) == ["Registered", "DuplicateMerged"]
    assert history(intake, south) == ["Registered", "ScreeningCompleted", "MergedInto"]
    assert len(intake.get_person(south).screenings) == 1, "the duplicate's history is kept"

    again = intake.execute(MergePeople(north, south, "same person", merger))
    assert not again.created and again.reason == "same person"
    assert intake.recorder.max_notification_id() == before + 2


def test_merging_with_an_unknown_person_records_nothing(intake, provenance, merger):
    north, _ = _two_agencies(intake, provenance)
    before = intake.recorder.max_notification_id()
    [outcome] = intake.execute_batch([MergePeople(north, Person.create_id("west", "nobody"), "same", merger)])
    assert isinstance(outcome, PersonNotFound)
    assert intake.recorder.max_notification_id() == before and intake.get_person(north).merged_duplicates == {}


def test_refused_merges_in_the_application(intake, provenance, merger):
    north, south = _two_agencies(intake, provenance)
    east = intake.execute(RegisterPerson("east", "E-1", "Sam", None, provenance)).person_id
    intake.execute(MergePeople(north, south, "same person", merger))
    itself, elsewhere, into_merged = intake.execute_batch([
        MergePeople(north, north, "same", merger),
        MergePeople(east, south, "same", merger),
        MergePeople(south, east, "same", merger),
    ])
    assert isinstance(itself, CannotMerge) and itself.field == "duplicate_id"
    assert isinstance(elsewhere, MergedAway) and (elsewhere.field, elsewhere.survivor_id) == ("duplicate_id", north)
    assert isinstance(into_merged, MergedAway) and (into_merged.field, into_merged.survivor_id) == ("survivor_id", north)
    assert history(intake, east) == ["Registered"]


def test_commands_to_a_merged_away_record_are_refused_naming_the_record_that_stands(intake, provenance, merger):
    north, south = _two_agencies(intake, provenance)
    east = intake.execute(RegisterPerson("east", "E-1", "Sam", None, provenance)).person_id
    intake.execute(GrantConsent(east, "d-0", "care_team", None, ["general"], AT, None, provenance))
    intake.execute(MergePeople(south, east, "same person", merger))  # east into south, then south into north
    intake.execute(MergePeople(north, south, "same person", merger))
    outcomes = intake.execute_batch([
        RecordScreening(east, uuid4(), "GAD-7", {"item1": 1}, provenance),
        RecordCrisisContact(south, uuid4(), "crisis_line_call", AT, "", [], "", "unknown", None, provenance),
        GrantConsent(south, "d-1", "care_team", None, ["general"], AT, None, provenance),
        RevokeConsent(east, "d-0", AT, provenance),
        AmendDetails(south, {"pronouns": "she/her"}, provenance),
        RecordScreening(north, uuid4(), "GAD-7", {"item1": 1}, provenance),
    ])
    refusals, accepted = outcomes[:-1], outcomes[-1]
    assert all(isinstance(r, MergedAway) and r.survivor_id == north for r in refusals), refusals
    assert accepted.created, "the survivor takes commands as before"
    assert intake.get_person(north).agency_identities == [("north", "42"), ("south", "S-7"), ("east", "E-1")]


def test_registering_a_merged_agency_record_again_returns_the_survivor(intake, provenance, merger):
    north, south = _two_agencies(intake, provenance)
    intake.execute(MergePeople(north, south, "same person", merger))
    again = intake.execute(RegisterPerson("south", "S-7", "Sammy", None, provenance))
    assert (again.person_id, again.created) == (north, False)


def test_the_duplicates_agency_sees_the_survivor_and_other_agencies_still_do_not(intake, provenance, merger):
    north, south = _two_agencies(intake, provenance)
    intake.execute(MergePeople(north, south, "same person", merger))
    survivor = intake.record_context(north)
    for agency in ("north", "south"):
        authorize(Principal("system", Role.AGENCY_SYSTEM, agency=agency), Right.READ_INTAKE_RECORD, survivor)
    with pytest.raises(NotVisible):
        authorize(Principal("system", Role.AGENCY_SYSTEM, agency="west"), Right.READ_INTAKE_RECORD, survivor)
    with pytest.raises(NotVisible):
        authorize(Principal("system", Role.AGENCY_SYSTEM, agency="north"), Right.READ_INTAKE_RECORD,
                  intake.record_context(south))


def test_a_merge_is_published_on_both_streams_with_ids_and_agency_records_only(intake, provenance, merger):
    from services.intake.translation import TRANSLATIONS
    from shared.relay import to_integration_event

    north, south = _two_agencies(intake, provenance)
    before = intake.recorder.max_notification_id()
    intake.execute(MergePeople(north, south, "same birth date and the same sister's phone number", merger))
    published = [
        to_integration_event("intake", n.id, event, TRANSLATIONS[type(event)](event)).event
        for n in intake.recorder.select_notifications(before + 1, 10)
        for event in [intake.mapper.to_domain_event(n)]
    ]
    by_type = {e.type: e for e in published}
    merged, merged_into = by_type["carecoord.intake.person_merged"], by_type["carecoord.intake.person_merged_into"]
    assert (merged.person_id, merged.person_sequence, merged.stream) == (north, 2, "intake.person")
    assert merged.payload == {"duplicate_id": str(south), "duplicate_agency": "south",
                              "duplicate_agency_person_id": "S-7", "also_known_as": []}
    assert (merged_into.person_id, merged_into.person_sequence) == (south, 2)
    assert merged_into.payload == {"survivor_id": str(north)}
    assert {(e.actor.id, e.correlation_id) for e in published} == {("alex", "corr-merge")}
