"""The integrated picture, folded in memory from the events careplan's aggregates record."""

from __future__ import annotations

import inspect
import json
from datetime import date, datetime, timedelta, timezone
from itertools import count
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import DomainEvent
from fhir.resources.R4B.bundle import Bundle

from services.careplan.application import CareplanApplication
from services.careplan.domain.plan import Preferences
from services.careplan.domain.sharing import SCREENING_CATEGORY
from services.careplan.domain.timeline import SCREENING_DOMAINS, Timeline
from services.careplan.picture.fhir import picture_bundle
from services.careplan.picture.document import Picture, from_document, to_document
from services.careplan.picture.model import AGGREGATES, NOT_SHOWN, SHOWN, fold, handles
from services.careplan.picture.view import present
from services.careplan.picture.projection import picture_event_classes
from shared.domain import Provenance, UpstreamRef
from shared.followers import PersonFollower
from shared.following import UpstreamChange
from shared.topics import recorded_as
from tests.unit.conftest import IN_MEMORY

START = date(2026, 3, 2)
NOON = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)


class Careplan:
    """A CareplanApplication in memory, with intake's events noted on people's timelines."""

    def __init__(self) -> None:
        self.app = CareplanApplication(env=IN_MEMORY)
        self.by = Provenance("alex", "care_coordinator", "corr-picture")
        self._sequences: dict[UUID, count] = {}
        self._positions = count(1)  # positions in intake's log: unique across people

    def _note(self, person_id: UUID, change) -> None:  # noqa: ANN001
        sequence = next(self._sequences.setdefault(person_id, count(1)))
        upstream = UpstreamRef("intake", "intake.person", next(self._positions), str(uuid4()), "test", str(person_id),
                               sequence, "c")
        assert self.app.apply_change(UpstreamChange(upstream, lambda timeline: change(timeline, upstream)))

    def entry(self, person_id: UUID, kind: str) -> None:
        self._note(person_id, lambda t, up: t.add_entry(up, kind, kind, NOON))

    def named(self, person_id: UUID, **details: str | None) -> None:
        self._note(person_id, lambda t, up: t.note_person(up, "person_registered", "Registered", NOON, details))

    def screened(self, person_id: UUID, instrument: str, domain: str, total: int | None, positive: bool | None,
                 at: datetime = NOON, band: str | None = None, flags: tuple[str, ...] = ()) -> str:
        screening_id = str(uuid4())
        self._note(person_id, lambda t, up: t.note_screening_result(
            up, "scored", at, screening_id, instrument, domain, total, band, positive, list(flags), True))
        return screening_id

    def crisis(self, person_id: UUID, at: datetime, due: datetime) -> str:
        contact_id = str(uuid4())
        self._note(person_id, lambda t, up: t.note_crisis_contact(
            up, "crisis", contact_id, "mobile_crisis_visit", at, "resolved_in_community", due))
        return contact_id

    def plan(self, person_id: UUID, change, today: date = START):  # noqa: ANN001
        return self.app.change_plan(person_id, change, self.by, today=today)

    def events(self) -> list[DomainEvent]:
        return [self.app.mapper.to_domain_event(n) for n in self.app.recorder.select_notifications(1, 100_000)]

    def pictures(self) -> dict[str, Picture]:
        return fold(self.events())

    def picture(self, person_id: UUID, now: datetime = NOON) -> dict:
        return present(self.pictures()[str(person_id)], now)


@pytest.fixture
def careplan() -> Careplan:
    return Careplan()


def test_every_event_class_of_careplans_aggregates_is_shown_or_named_as_not_shown():
    for aggregate in AGGREGATES:
        recorded = {value for name, value in vars(aggregate).items()
                    if inspect.isclass(value) and issubclass(value, DomainEvent) and name != "Event"}
        assert recorded <= set(SHOWN) | NOT_SHOWN, (aggregate, recorded - set(SHOWN) - NOT_SHOWN)
    assert not set(SHOWN) & NOT_SHOWN
    # The projection reads from the log exactly the events the picture shows.
    assert set(picture_event_classes()) == set(SHOWN)


def test_an_event_a_base_aggregate_defines_is_folded_as_the_class_it_is_recorded_as():
    person = uuid4()
    timeline = Timeline(person_id=person)
    timeline.record_unprocessable(UpstreamRef("intake", "intake.person", 1, str(uuid4()), "test", str(person), 1, "c"),
                                  "bad schema")
    recorded = type(timeline.pending_events[-1])
    assert recorded is PersonFollower.UpstreamEventUnprocessable  # not Timeline's copy of it
    assert recorded_as(Timeline, Timeline.UpstreamEventUnprocessable) == [Timeline.UpstreamEventUnprocessable, recorded]
    for aggregate in AGGREGATES:
        for event_class in [shown for shown in SHOWN if shown in vars(aggregate).values()]:
            assert all(handles(cls.__new__(cls)) for cls in recorded_as(aggregate, event_class)), event_class


def test_the_picture_orders_exactly_the_screening_domains_the_domain_knows():
    assert sorted(SCREENING_DOMAINS) == sorted(SCREENING_CATEGORY)


def test_latest_results_by_domain_and_co_occurring_needs_when_two_domains_are_positive(careplan):
    person = uuid4()
    careplan.named(person, preferred_name="Sam", pronouns="they/them", preferred_language="es")
    careplan.screened(person, "PHQ-9", "mental_health", 14, True, band="moderate")
    assert careplan.picture(person)["co_occurring_needs"] is False
    careplan.screened(person, "AUDIT-C", "substance_use", 6, True, at=NOON + timedelta(hours=1))
    careplan.screened(person, "PC-PTSD-5", "trauma", 1, False)

    picture = careplan.picture(person)
    assert (picture["preferred_name"], picture["pronouns"], picture["preferred_language"]) == ("Sam", "they/them", "es")
    assert [(s["domain"], s["instrument"], s["total"]) for s in picture["screenings"]] == [
        ("mental_health", "PHQ-9", 14), ("substance_use", "AUDIT-C", 6), ("trauma", "PC-PTSD-5", 1)]
    assert picture["screenings"][1]["scored_at"] == (NOON + timedelta(hours=1)).isoformat()
    assert picture["positive_domains"] == ["mental_health", "substance_use"]
    assert picture["co_occurring_needs"] is True

    # A later negative result in a domain replaces the positive one: one positive domain is left.
    careplan.screened(person, "GAD-7", "mental_health", 3, False, at=NOON + timedelta(days=1))
    picture = careplan.picture(person)
    assert picture["screenings"][0]["instrument"] == "GAD-7"
    assert (picture["positive_domains"], picture["co_occurring_needs"]) == (["substance_use"], False)


def test_a_crisis_follow_up_is_due_then_overdue_at_read_time_until_it_is_followed_up(careplan):
    person = uuid4()
    due = NOON + timedelta(hours=24)
    followed_first = uuid4()
    # The plan may record the follow-up before the contact reaches the timeline.
    careplan.plan(followed_first, lambda plan: plan.record_crisis_follow_up("c-early", START, "called", careplan.by))
    contact = careplan.crisis(person, NOON, due)

    assert careplan.picture(person, now=due - timedelta(minutes=1))["crisis_contacts"][0]["follow_up_status"] == "due"
    assert careplan.picture(person, now=due + timedelta(minutes=1))["crisis_contacts"][0]["follow_up_status"] == "overdue"
    careplan.plan(person, lambda plan: plan.record_crisis_follow_up(contact, START + timedelta(days=1), "we talked",
                                                                    careplan.by))
    shown = careplan.picture(person, now=due + timedelta(days=3))["crisis_contacts"][0]
    assert (shown["contact_id"], shown["follow_up_status"], shown["followed_up_on"], shown["follow_up_note"]) == (
        contact, "followed_up", "2026-03-03", "we talked")
    assert careplan.picture(followed_first)["crisis_contacts"] == []


def test_the_safety_plan_version_and_its_review_since_a_later_crisis(careplan):
    person = uuid4()
    careplan.crisis(person, NOON - timedelta(days=10), NOON)  # before the plan was written
    careplan.app.revise_safety_plan(person, {"warning_signs": ["not sleeping"]}, 0, NOON - timedelta(days=5), careplan.by)
    careplan.app.revise_safety_plan(person, {"reasons_for_living": ["my dog"]}, 1, NOON - timedelta(days=2), careplan.by)
    assert careplan.picture(person)["safety_plan"] == {
        "version": 2, "written_at": (NOON - timedelta(days=2)).isoformat(), "needs_review": False,
        "needs_review_since_contact": None}

    later = careplan.crisis(person, NOON, NOON + timedelta(days=1))
    careplan.crisis(person, NOON + timedelta(hours=3), NOON + timedelta(days=1))
    safety_plan = careplan.picture(person)["safety_plan"]
    assert (safety_plan["needs_review"], safety_plan["needs_review_since_contact"]) == (True, later)


def test_the_next_review_is_scheduled_unless_a_positive_screening_or_crisis_prompts_it_sooner(careplan):
    person = uuid4()
    careplan.screened(person, "PHQ-9", "mental_health", 15, True, at=NOON - timedelta(days=30))  # before the plan
    assert careplan.picture(person)["next_review"] is None  # no plan to review yet
    careplan.plan(person, lambda plan: plan.set_goal("g1", "Keep my flat", None, "housing", [], careplan.by))
    assert careplan.picture(person)["next_review"] == {"due_on": "2026-05-31", "prompted_by": ["scheduled"]}

    screening = careplan.screened(person, "DAST-10", "substance_use", 5, True, at=NOON + timedelta(days=7))
    contact = careplan.crisis(person, NOON + timedelta(days=9), NOON + timedelta(days=10))
    assert careplan.picture(person)["next_review"] == {
        "due_on": "2026-03-09", "prompted_by": [f"positive_screening:{screening}", f"crisis_contact:{contact}"]}

    careplan.plan(person, lambda plan: plan.record_review("r1", date(2026, 3, 12), "added a support", "the crisis",
                                                          [f"positive_screening:{screening}",
                                                           f"crisis_contact:{contact}"], careplan.by))
    picture = careplan.picture(person)
    assert picture["next_review"] == {"due_on": "2026-06-10", "prompted_by": ["scheduled"]}
    assert picture["plan"]["last_reviewed_on"] == "2026-03-12"
    assert picture["plan"]["last_review"]["what_changed"] == "added a support"


def test_active_goals_with_their_latest_indicator_values_and_current_supports(careplan):
    person = uuid4()
    by = careplan.by
    careplan.plan(person, lambda plan: plan.set_goal("g1", "Sleep through the night", "Improve sleep",
                                                     "physical_health", ["nights slept"], by))
    careplan.plan(person, lambda plan: plan.set_goal("g2", "Find work", None, "employment", [], by))
    careplan.plan(person, lambda plan: plan.record_indicator_value("g1", "nights slept", 3, date(2026, 3, 9), None, by))
    careplan.plan(person, lambda plan: plan.record_indicator_value("g1", "nights slept", 1, date(2026, 3, 5), "late", by))
    careplan.plan(person, lambda plan: plan.change_goal_status("g2", "set_aside", "not now", by))
    careplan.plan(person, lambda plan: plan.add_support("s1", "housing", "Rent assistance", "County", by))
    careplan.plan(person, lambda plan: plan.add_support("s2", "peer_support", "Weekly group", "Peer center", by))
    careplan.plan(person, lambda plan: plan.end_support("s1", "moved in with family", by))
    careplan.plan(person, lambda plan: plan.describe_person(["persistent"], Preferences("es", None, None, ("sister",)), by))
    careplan.plan(person, lambda plan: plan.record_setback("b1", date(2026, 3, 8), "A rough week", None, ["g1"], by))

    picture = careplan.picture(person)
    assert [g["goal_id"] for g in picture["goals"]] == ["g1"]
    assert picture["goals"][0]["in_own_words"] == "Sleep through the night"
    assert picture["goals"][0]["latest_values"] == {"nights slept": {"value": 3, "recorded_on": "2026-03-09", "note": None}}
    assert [s["support_id"] for s in picture["supports"]] == ["s2"]
    assert picture["strengths"] == ["persistent"]
    assert picture["preferences"] == {"language": "es", "culture": None, "faith": None, "who_to_involve": ["sister"]}
    assert [s["in_own_words"] for s in picture["recent_setbacks"]] == ["A rough week"]

    careplan.plan(person, lambda plan: plan.change_goal_status("g2", "active", "ready now", by))
    assert [g["goal_id"] for g in careplan.picture(person)["goals"]] == ["g1", "g2"]


def test_the_agreement_is_current_until_the_plan_changes(careplan):
    person = uuid4()
    careplan.plan(person, lambda plan: plan.set_goal("g1", "Stay housed", None, None, [], careplan.by))
    careplan.plan(person, lambda plan: plan.record_agreement(True, "person", None, careplan.by))
    agreement = careplan.picture(person)["plan"]["agreement"]
    assert (agreement["agrees"], agreement["given_by"], agreement["current"]) == (True, "person", True)
    careplan.plan(person, lambda plan: plan.set_goal("g2", "See my kids", None, None, [], careplan.by))
    assert careplan.picture(person)["plan"]["agreement"]["current"] is False


def test_recent_medication_notes_and_decisions_are_the_last_ten(careplan):
    person = uuid4()
    for n in range(12):
        careplan.app.add_medication_note(person, f"n{n}", "person_says", f"note {n}", "sertraline", None, "clinician",
                                         careplan.by)
    careplan.app.add_medication_note(person, "q", "question_for_prescriber", "Can the dose move to mornings?",
                                     "sertraline", None, "peer_specialist", careplan.by)
    careplan.app.record_prescribing_decision(person, "d1", "dose", "sertraline", "50 mg mornings", "sleep", True,
                                             "prescriber", careplan.by)
    picture = careplan.picture(person)
    assert len(picture["medication_notes"]) == 10
    assert [n["note_id"] for n in picture["medication_notes"]] == [f"n{n}" for n in range(3, 12)] + ["q"]
    assert picture["medication_notes"][-1]["for_prescriber"] is True
    assert picture["medication_notes"][0]["for_prescriber"] is False
    decision = picture["prescribing_decisions"][0]
    assert (decision["decision"], decision["dose"], decision["prescriber_role"]) == ("dose", "50 mg mornings", "prescriber")


def test_the_team_as_members_join_and_leave(careplan):
    person = uuid4()
    careplan.app.add_team_member(person, "alex", "care_coordinator", careplan.by)
    careplan.app.add_team_member(person, "kim", "clinician", careplan.by)
    careplan.app.remove_team_member(person, "alex", careplan.by)
    assert careplan.picture(person)["team"] == [{"member_id": "kim", "role": "clinician"}]


def test_a_timeline_entry_alone_starts_an_empty_picture_and_other_people_are_apart(careplan):
    person, other = uuid4(), uuid4()
    careplan.entry(person, "consent_granted")
    careplan.screened(other, "PHQ-9", "mental_health", 20, True)
    pictures = careplan.pictures()
    assert set(pictures) == {str(person), str(other)}
    assert pictures[str(person)] == Picture(person_id=str(person), updated_at=pictures[str(person)].updated_at)


def test_a_picture_is_a_json_document_and_folding_on_from_a_stored_one_gives_the_same_picture(careplan):
    person = uuid4()
    careplan.named(person, preferred_name="Ari")
    careplan.screened(person, "C-SSRS", "suicide_risk", None, True, band="high_risk", flags=("high_risk",))
    careplan.crisis(person, NOON, NOON + timedelta(days=1))
    careplan.plan(person, lambda plan: plan.set_goal("g1", "Stay safe", None, None, ["calm days"], careplan.by))
    careplan.app.revise_safety_plan(person, {"warning_signs": ["pacing"]}, 0, NOON, careplan.by)
    picture = careplan.pictures()[str(person)]
    assert from_document(json.loads(json.dumps(to_document(picture)))) == picture
    # The projection stores each picture after a batch and folds the next batch onto what it reads back.
    events = careplan.events()
    whole = fold(events)
    for split in range(1, len(events)):
        stored = {person_id: from_document(json.loads(json.dumps(to_document(picture))))
                  for person_id, picture in fold(events[:split]).items()}
        assert fold(events[split:], stored) == whole, f"stored after {split} of {len(events)} events"


def test_the_fhir_export_is_a_valid_r4_bundle_with_loinc_coded_scores(careplan):
    person = uuid4()
    careplan.screened(person, "PHQ-9", "mental_health", 14, True, band="moderate")
    careplan.screened(person, "DAST-10", "substance_use", 4, True, band="moderate")
    careplan.screened(person, "C-SSRS", "suicide_risk", None, False, band="low_risk")
    careplan.app.add_team_member(person, "kim", "clinician", careplan.by)
    careplan.plan(person, lambda plan: plan.set_goal("g1", "Get back to running", "Physical activity",
                                                     "physical_health", ["runs a week"], careplan.by))
    careplan.plan(person, lambda plan: plan.add_support("s1", "peer_support", "Weekly group", "Peer center", careplan.by))

    bundle = Bundle.model_validate_json(picture_bundle(careplan.picture(person)).model_dump_json())
    resources = [entry.resource for entry in bundle.entry]
    assert bundle.type == "collection"
    assert sorted(r.get_resource_type() for r in resources) == [
        "CarePlan", "CareTeam", "Goal", "Observation", "Observation", "Observation"]
    by_type = {r.get_resource_type(): r for r in resources}
    observations = [r for r in resources if r.get_resource_type() == "Observation"]
    assert [o.code.coding[0].code for o in observations] == ["44261-6", "82667-7", "C-SSRS"]
    assert [o.subject.reference for o in observations] == [f"Patient/{person}"] * 3
    assert observations[0].valueInteger == 14 and observations[0].interpretation[0].coding[0].code == "POS"
    assert observations[2].valueCodeableConcept.text == "low_risk"
    goal = by_type["Goal"]
    assert (goal.lifecycleStatus, goal.description.text) == ("active", "Get back to running")
    plan = by_type["CarePlan"]
    full_urls = {entry.resource.id: entry.fullUrl for entry in bundle.entry}
    assert plan.goal[0].reference == full_urls[goal.id]
    assert plan.careTeam[0].reference == full_urls[by_type["CareTeam"].id]
    assert plan.activity[0].detail.description == "Weekly group"
    assert by_type["CareTeam"].participant[0].member.identifier.value == "kim"

    # The same picture exports the same resources.
    assert picture_bundle(careplan.picture(person)).model_dump_json() == bundle.model_dump_json()


def test_no_plan_no_care_plan_resource(careplan):
    person = uuid4()
    careplan.screened(person, "GAD-7", "mental_health", None, None)
    bundle = picture_bundle(careplan.picture(person))
    (observation,) = [entry.resource for entry in bundle.entry]
    assert observation.get_resource_type() == "Observation"
    assert observation.dataAbsentReason.coding[0].code == "unknown"
    assert observation.interpretation[0].coding[0].code == "IND"
