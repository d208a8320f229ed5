"""Events stored before person aggregates shared a base (shared/person_aggregate.py) read back:
the same topics, the same attributes; every event of a person aggregate now names the person
and says who caused it, including intake's older events, which did not name the person."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from services.careplan.domain.care_team import CareTeam
from services.careplan.domain.plan import CarePlan
from services.intake.domain.person import Person
from shared.domain import Provenance
from shared.person_aggregate import NotInACommand
from tests.support.history import store_as_recorded

STORED_PROVENANCE = Provenance("agency-7", "agency_system", "corr-1")
RESULT = {"instrument": "PHQ-9", "domain": "mental_health", "total": 15, "band": "moderately severe",
          "positive": True, "flags": [], "complete": True}


def test_a_persons_intake_history_stored_without_person_ids_reads_back_naming_the_person(intake, provenance):
    person_id, screening_id = Person.create_id("north", "42"), uuid4()
    store_as_recorded(intake, person_id, [
        ("services.intake.domain.person:Person.Registered",
         {"originator_topic": "services.intake.domain.person:Person", "agency": "north", "agency_person_id": "42",
          "preferred_name": "Sam", "date_of_birth": date(1990, 5, 17), "provenance": STORED_PROVENANCE,
          "pronouns": None, "preferred_language": None}),
        ("services.intake.domain.person:Person.ScreeningRecorded",
         {"screening_id": screening_id, "instrument": "PHQ-9", "answers": {"item1": 3}, "sex": None,
          "provenance": STORED_PROVENANCE}),
        ("services.intake.domain.person:Person.ScreeningScored",
         {"screening_id": screening_id, "result": RESULT, "provenance": STORED_PROVENANCE}),
    ])

    person = intake.get_person(person_id)
    assert (person.preferred_name, person.screening_result(screening_id).positive) == ("Sam", True)
    events = list(intake.events.get(person_id))
    assert {e.person_id for e in events} == {person_id}
    assert {e.provenance for e in events} == {STORED_PROVENANCE}

    person.amend_details({"pronouns": "they/them"}, provenance)  # the history goes on from there
    intake.save(person)
    assert intake.get_person(person_id).pronouns == "they/them"
    assert list(intake.events.get(person_id))[-1].person_id == person_id


def test_a_care_plan_and_team_stored_with_their_person_ids_read_back(careplan, provenance):
    person_id = uuid4()
    plan_id, team_id = CarePlan.create_id(person_id), CareTeam.create_id(person_id)
    store_as_recorded(careplan, plan_id, [
        ("services.careplan.domain.plan:CarePlan.Started",
         {"originator_topic": "services.careplan.domain.plan:CarePlan", "person_id": person_id,
          "started_on": date(2026, 1, 5), "provenance": STORED_PROVENANCE}),
        ("services.careplan.domain.plan:CarePlan.GoalSet",
         {"person_id": person_id, "goal_id": "g1", "in_own_words": "a place of my own", "team_restatement": None,
          "life_domain": "housing", "indicators": ["nights housed"], "provenance": STORED_PROVENANCE}),
    ])
    store_as_recorded(careplan, team_id, [
        ("services.careplan.domain.care_team:CareTeam.Formed",
         {"originator_topic": "services.careplan.domain.care_team:CareTeam", "person_id": person_id,
          "provenance": STORED_PROVENANCE}),
        ("services.careplan.domain.care_team:CareTeam.MemberJoined",
         {"person_id": person_id, "member_id": "casey", "role": "care_coordinator", "provenance": STORED_PROVENANCE}),
    ])

    plan = careplan.care_plan(person_id)
    assert plan.goals["g1"].in_own_words == "a place of my own"
    assert plan.goals["g1"].sharing_category is None  # stored before sharing categories existed
    assert careplan.care_team(person_id) == {"casey": "care_coordinator"}
    assert {(e.person_id, e.provenance) for e in careplan.events.get(plan_id)} == {(person_id, STORED_PROVENANCE)}


def test_an_event_of_a_person_aggregate_records_the_commands_person_and_provenance(provenance):
    team = CareTeam(uuid4(), provenance)
    team.add_member("casey", "care_coordinator", provenance)
    joined = team.collect_events()[-1]
    assert (joined.person_id, joined.provenance) == (team.person_id, provenance)


def test_an_event_triggered_outside_a_command_is_refused_for_lack_of_provenance(provenance):
    team = CareTeam(uuid4(), provenance)
    team.add_member("kim", "clinician", provenance)  # the command's provenance does not stay behind
    with pytest.raises(NotInACommand):
        team.trigger_event(CareTeam.MemberJoined, member_id="casey", role="clinician")
