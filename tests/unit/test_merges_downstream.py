"""Careplan follows intake's merges: the duplicate's id resolves to the survivor, the survivor's care
team is the union (with who joined through the merge), both timelines read as one with each entry
saying which record it came from, events for the duplicate in flight during the merge are applied
once, and the picture's conflict rules. Applications run in memory and on PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timezone
from itertools import count
from uuid import UUID, uuid4

import pytest

from services.careplan.consumers import change_for
from services.careplan.domain.care_team import CareTeam
from services.careplan.picture.document import Picture
from services.careplan.picture.merged import combine
from services.careplan.picture.view import present
from shared.contracts.base import Payload
from shared.contracts.intake import PersonMergedIntoV1, PersonMergedV1, PersonRegisteredV1, ScreeningCompletedV1
from shared.domain import OutOfSequence, Provenance, UpstreamRef

NOON = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
LEAD = Provenance("sam", "supervisor", "corr-merge")


class Intake:
    """Intake's published events as careplan's consumer hands them in: per person, numbered."""

    def __init__(self, careplan) -> None:  # noqa: ANN001
        self.careplan = careplan
        self._change = change_for(careplan)
        self._positions = count(1)
        self._sequences: dict[UUID, int] = {}

    def event(self, person_id: UUID, payload: Payload, sequence: int | None = None) -> UpstreamRef:
        """The upstream ref of `person_id`'s next event (or the one at `sequence`)."""
        if sequence is None:
            sequence = self._sequences[person_id] = self._sequences.get(person_id, 0) + 1
        return UpstreamRef("intake", "intake.person", next(self._positions), str(uuid4()), payload.event_type,
                           str(person_id), sequence, "corr-merge")

    def deliver(self, upstream: UpstreamRef, payload: Payload) -> bool:
        return self.careplan.apply_change(self._change(upstream, payload, NOON))

    def publish(self, person_id: UUID, payload: Payload) -> UpstreamRef:
        upstream = self.event(person_id, payload)
        assert self.deliver(upstream, payload)
        return upstream

    def register(self, agency: str) -> UUID:
        person_id = uuid4()
        self.publish(person_id, PersonRegisteredV1(agency=agency, agency_person_id=str(person_id),
                                                   preferred_name="Noor", pronouns=None, preferred_language=None,
                                                   date_of_birth=None))
        return person_id

    @staticmethod
    def merged(duplicate_id: UUID) -> PersonMergedV1:
        return PersonMergedV1(duplicate_id=duplicate_id, duplicate_agency="south", duplicate_agency_person_id="S-1")


def screening(domain: str = "mental_health") -> ScreeningCompletedV1:
    return ScreeningCompletedV1(screening_id=uuid4(), instrument="GAD-7", domain=domain, answers={"item1": 2},
                                total=12, band="moderate", positive=True, flags=[], complete=True)


@pytest.fixture
def intake(careplan) -> Intake:
    return Intake(careplan)


def test_a_merge_joins_the_duplicates_team_to_the_survivors_and_says_who_came_through_it(careplan, intake):
    survivor, duplicate = intake.register("north"), intake.register("south")
    careplan.add_team_member(survivor, "alex", "care_coordinator", LEAD)
    careplan.add_team_member(survivor, "kim", "clinician", LEAD)
    careplan.add_team_member(duplicate, "kim", "peer_specialist", LEAD)  # on both: keeps the survivor's role
    careplan.add_team_member(duplicate, "robin", "care_coordinator", LEAD)

    intake.publish(survivor, intake.merged(duplicate))
    intake.publish(duplicate, PersonMergedIntoV1(survivor_id=survivor))

    assert careplan.care_team(survivor) == {"alex": "care_coordinator", "kim": "clinician", "robin": "care_coordinator"}
    assert careplan.joined_through_merge(survivor) == {"robin": str(duplicate)}
    assert careplan.care_team(duplicate) == {"kim": "peer_specialist", "robin": "care_coordinator"}, (
        "the duplicate's own team is its history: unchanged")
    team = careplan.read(CareTeam.create_id(survivor))
    assert team.coordinators_to_choose_from() == ["alex", "robin"], "two coordinators: both stay until a supervisor chooses"
    assert (careplan.survivor_of(duplicate), careplan.survivor_of(survivor)) == (survivor, survivor)
    assert careplan.records_of(survivor) == [survivor, duplicate]


def test_consent_given_on_either_record_holds_for_the_merged_one_and_not_after_an_undo(careplan, intake):
    from shared.contracts.intake import ConsentGrantedV1, PersonMergeUndoneV1  # noqa: PLC0415

    survivor, duplicate = intake.register("north"), intake.register("south")
    intake.publish(duplicate, ConsentGrantedV1(directive_id="d1", recipient_kind="named_person", recipient_id="sister",
                                               categories=["general"], starts_at=NOON, expires_at=None))
    later = datetime(2026, 3, 3, tzinfo=timezone.utc)
    assert careplan.shared_record(survivor, "named_person", "sister", later) is None

    intake.publish(survivor, intake.merged(duplicate))
    intake.publish(duplicate, PersonMergedIntoV1(survivor_id=survivor))
    shared = careplan.shared_record(survivor, "named_person", "sister", later)
    assert shared is not None and shared.person_id == survivor and "general" in shared.categories

    undone = PersonMergeUndoneV1(merge_id=uuid4(), survivor_id=survivor, duplicate_id=duplicate)
    intake.publish(survivor, undone)
    intake.publish(duplicate, undone)
    assert careplan.shared_record(survivor, "named_person", "sister", later) is None, (
        "after the undo the duplicate's consent is the duplicate's again")


def test_both_timelines_read_as_one_each_entry_naming_its_record(careplan, intake):
    survivor, duplicate = intake.register("north"), intake.register("south")
    intake.publish(duplicate, screening())
    intake.publish(survivor, intake.merged(duplicate))
    intake.publish(duplicate, PersonMergedIntoV1(survivor_id=survivor))

    entries = careplan.merged_timeline(careplan.records_of(survivor))
    assert sorted((str(record), entry.kind) for record, entry in entries) == sorted([
        (str(survivor), "person_registered"), (str(survivor), "person_merged"),
        (str(duplicate), "person_registered"), (str(duplicate), "screening_scored"),
        (str(duplicate), "person_merged_into")])


def test_an_event_for_the_duplicate_in_flight_during_the_merge_is_applied_once_in_order(careplan, intake):
    """Intake recorded the duplicate's screening before the merge, but careplan gets it after the
    survivor's merge; the duplicate's `merged_into` overtakes it and waits; redelivered, it counts once."""
    survivor, duplicate = intake.register("north"), intake.register("south")
    in_flight = screening()
    screened = intake.event(duplicate, in_flight)  # the duplicate's 2nd event
    merged_into = PersonMergedIntoV1(survivor_id=survivor)
    merged_into_ref = intake.event(duplicate, merged_into)  # its 3rd

    intake.publish(survivor, intake.merged(duplicate))
    with pytest.raises(OutOfSequence):
        intake.deliver(merged_into_ref, merged_into)  # overtook the screening: waits (retried later)
    assert intake.deliver(screened, in_flight) is True
    assert intake.deliver(merged_into_ref, merged_into) is True
    assert intake.deliver(screened, in_flight) is False, "a redelivery is a duplicate"

    entries = careplan.merged_timeline(careplan.records_of(careplan.survivor_of(duplicate)))
    scored = [(record, entry.sequence) for record, entry in entries if entry.kind == "screening_scored"]
    assert scored == [(duplicate, 2)], "the survivor shows the in-flight screening exactly once"


def test_a_merge_delivered_twice_joins_the_team_once(careplan, intake):
    survivor, duplicate = intake.register("north"), intake.register("south")
    careplan.add_team_member(duplicate, "robin", "clinician", LEAD)
    payload = intake.merged(duplicate)
    upstream = intake.event(survivor, payload)
    assert intake.deliver(upstream, payload) is True
    assert intake.deliver(upstream, payload) is False
    joined = [e for e in careplan.events.get(CareTeam.create_id(survivor))
              if isinstance(e, CareTeam.MemberJoinedThroughMerge)]
    assert [e.member_id for e in joined] == ["robin"]


# -- the picture's conflict rules (pure) -----------------------------------------------------------


def _picture(person_id: UUID, **facts) -> Picture:  # noqa: ANN003
    return Picture(person_id=str(person_id), **facts)


def test_the_survivors_plan_stays_current_and_the_duplicates_goals_are_carried_over_in_own_words():
    survivor, duplicate = uuid4(), uuid4()
    plan = {"started_on": "2026-01-05", "version": 3, "last_reviewed_on": "2026-01-05", "last_review": None,
            "agreement": None}
    goal = {"goal_id": "g1", "in_own_words": "Keep my flat", "team_restatement": None, "life_domain": None,
            "indicators": [], "status": "active", "status_why": None, "latest_values": {}, "set_at": "2026-01-05T12:00:00+00:00"}
    theirs = {**goal, "goal_id": "g9", "in_own_words": "See my sister on Sundays"}
    shown = present(combine(_picture(survivor, plan=plan, goals={"g1": goal}),
                            [_picture(duplicate, plan={**plan, "version": 7}, goals={"g9": theirs})]), NOON)
    assert [g["goal_id"] for g in shown["goals"]] == ["g1"]
    assert shown["goals"][0]["record_id"] == str(survivor)
    assert [(g["in_own_words"], g["record_id"]) for g in shown["carried_over_goals"]] == [
        ("See my sister on Sundays", str(duplicate))]
    assert shown["plan"]["started_on"] == "2026-01-05"


def test_the_newest_safety_plan_is_current_whichever_record_holds_it_and_histories_interleave():
    survivor, duplicate = uuid4(), uuid4()
    note = {"note_id": "n", "kind": "what_the_person_says", "text": "t", "medication": None, "choice": None,
            "author_role": "clinician", "for_prescriber": False}
    shown = present(combine(
        _picture(survivor, safety_plan={"version": 2, "written_at": "2026-02-01T10:00:00+00:00"},
                 medication_notes=[{**note, "note_id": "s1", "added_at": "2026-02-03T10:00:00+00:00"}]),
        [_picture(duplicate, safety_plan={"version": 1, "written_at": "2026-02-20T10:00:00+00:00"},
                  medication_notes=[{**note, "note_id": "d1", "added_at": "2026-02-02T10:00:00+00:00"},
                                    {**note, "note_id": "d2", "added_at": "2026-02-04T10:00:00+00:00"}])]), NOON)
    assert (shown["safety_plan"]["version"], shown["safety_plan"]["record_id"]) == (1, str(duplicate))
    assert [(n["note_id"], n["record_id"]) for n in shown["medication_notes"]] == [
        ("d1", str(duplicate)), ("s1", str(survivor)), ("d2", str(duplicate))]


def test_the_latest_screening_in_each_domain_wins_across_records():
    survivor, duplicate = uuid4(), uuid4()

    def result(total: int, at: str) -> dict:
        return {"screening_id": str(total), "instrument": "PHQ-9", "domain": "mental_health", "total": total,
                "band": None, "positive": False, "flags": [], "complete": True, "scored_at": at}

    shown = present(combine(_picture(survivor, screenings={"mental_health": result(4, "2026-02-01T00:00:00+00:00")}),
                            [_picture(duplicate, screenings={"mental_health": result(9, "2026-02-05T00:00:00-05:00")})]),
                    NOON)
    assert [(s["total"], s["record_id"]) for s in shown["screenings"]] == [(9, str(duplicate))]
    assert date.fromisoformat(shown["screenings"][0]["scored_at"][:10]) == date(2026, 2, 5)


# -- notifications: a notice about either record is decided as about one person --------------------


class Notifications:
    def __init__(self, application) -> None:  # noqa: ANN001
        self.app = application
        self._positions = count(1)
        self._sequences: dict[tuple[UUID, str], int] = {}

    def apply(self, person_id: UUID, payload: Payload, stream: str = "intake.person") -> UpstreamRef:
        from services.notifications.consumers import change_for as notifications_change  # noqa: PLC0415
        key = (person_id, stream)
        self._sequences[key] = self._sequences.get(key, 0) + 1
        upstream = UpstreamRef(stream.split(".")[0], stream, next(self._positions), str(uuid4()), payload.event_type,
                               str(person_id), self._sequences[key], "corr-merge")
        assert self.app.apply_change(notifications_change(self.app)(upstream, payload, NOON))
        return upstream


def test_notifications_decides_a_notice_about_either_record_with_the_survivors_team_and_both_consents(notifications):
    from shared.access import Principal, Role  # noqa: PLC0415
    from shared.contracts.careplan import TeamMemberJoinedV1  # noqa: PLC0415
    from shared.contracts.intake import ConsentGrantedV1  # noqa: PLC0415

    n = Notifications(notifications)
    survivor, duplicate = uuid4(), uuid4()
    for person in (survivor, duplicate):
        n.apply(person, PersonRegisteredV1(agency="a", agency_person_id=str(person), preferred_name="Noor"))
    n.apply(survivor, TeamMemberJoinedV1(member_id="alex", role="care_coordinator"), "careplan.care_team")
    n.apply(duplicate, TeamMemberJoinedV1(member_id="robin", role="clinician"), "careplan.care_team")
    n.apply(duplicate, ConsentGrantedV1(directive_id="d1", recipient_kind="named_person", recipient_id="sister",
                                        categories=["general"], starts_at=NOON, expires_at=None))
    in_flight = n.apply(duplicate, screening())  # a positive screening of the duplicate's
    alex = Principal("alex", Role.CARE_COORDINATOR)
    sister = Principal("sister", Role.SUPPORT_PERSON)
    assert notifications.refusals(alex, [(duplicate, "mental_health")], NOON) == ["not on the person's care team"]
    assert notifications.refusals(sister, [(survivor, "general")], NOON) == [
        "no consent directive of the person shares general information with this recipient now"]

    n.apply(survivor, intake_merged := Intake.merged(duplicate))
    n.apply(survivor, TeamMemberJoinedV1(member_id="robin", role="clinician", joined_through_merge_of=duplicate),
            "careplan.care_team")
    n.apply(duplicate, PersonMergedIntoV1(survivor_id=survivor))
    assert intake_merged.duplicate_id == duplicate
    assert notifications.refusals(alex, [(duplicate, "mental_health")], NOON) == [None], (
        "the duplicate's notice reaches the survivor's (union) team")
    assert notifications.refusals(sister, [(survivor, "general")], NOON) == [None], (
        "consent the person gave on either record holds for the merged one")
    assert [d.notification_id for d in notifications.due_notifications_of_person(survivor)
            if d.kind == "screening_positive"] == [in_flight.event_id]
    assert notifications.survivor_of(duplicate) == survivor


# -- undoing a wrong merge -------------------------------------------------------------------------


@pytest.fixture
def intake_application(request, persistence):  # noqa: ANN001 - `intake` here is intake's events, fed to careplan
    from services.intake.application import IntakeApplication  # noqa: PLC0415
    from tests.unit.conftest import application_env  # noqa: PLC0415

    application = IntakeApplication(env=application_env(request, "intake"))
    yield application
    application.close()


def test_intake_undoes_a_merge_once_with_a_reason_and_the_records_stand_alone_again(intake_application):
    from services.intake.application import MergePeople, RegisterPerson, UndoMerge  # noqa: PLC0415
    from services.intake.domain.refusals import CannotMerge, UnknownMerge  # noqa: PLC0415

    intake = intake_application
    merger = Provenance("alex", "care_coordinator", "corr-undo")
    undoer = Provenance("sam", "supervisor", "corr-undo-2")
    north = intake.execute(RegisterPerson("north", "N-1", "Noor", None, merger)).person_id
    south = intake.execute(RegisterPerson("south", "S-1", "Noor", None, merger)).person_id
    merged = intake.execute(MergePeople(north, south, "same phone", merger))
    assert merged.merge_id is not None and intake.duplicate_of_merge(north, merged.merge_id) == south

    with pytest.raises(CannotMerge):
        intake.execute(UndoMerge(north, south, merged.merge_id, "  ", undoer))
    with pytest.raises(UnknownMerge):
        intake.execute(UndoMerge(north, south, uuid4(), "wrong", undoer))
    undone = intake.execute(UndoMerge(north, south, merged.merge_id, "different birth dates", undoer))
    again = intake.execute(UndoMerge(north, south, merged.merge_id, "said twice", undoer))
    assert (undone.created, again.created) == (True, False)
    assert undone.agency_identities == [("north", "N-1")]
    assert intake.get_person(south).merged_into is None and intake.get_person(north).merged_duplicates == {}
    assert intake.execute(RegisterPerson("south", "S-1", "Noor", None, merger)).person_id == south, (
        "the duplicate's agency record answers to it again")

    remerged = intake.execute(MergePeople(north, south, "same person after all", merger))
    assert remerged.created and remerged.merge_id != merged.merge_id, "merged again: another merge"
    assert [(e["what"], e["by"], e["reason"]) for e in intake.merge_history(north)] == [
        ("merged_in", "alex", "same phone"), ("merge_undone", "sam", "different birth dates"),
        ("merged_in", "alex", "same person after all")]
    assert [e["merge_id"] for e in intake.merge_history(north)] == [merged.merge_id, merged.merge_id,
                                                                     remerged.merge_id]


def test_careplan_splits_what_it_joined_and_keeps_what_was_added_after_the_merge_with_the_survivor(careplan, intake):
    from shared.contracts.intake import PersonMergeUndoneV1  # noqa: PLC0415

    survivor, duplicate = intake.register("north"), intake.register("south")
    careplan.add_team_member(survivor, "alex", "care_coordinator", LEAD)
    careplan.add_team_member(duplicate, "robin", "clinician", LEAD)
    intake.publish(duplicate, screening())
    intake.publish(survivor, intake.merged(duplicate))
    intake.publish(duplicate, PersonMergedIntoV1(survivor_id=survivor))
    careplan.add_team_member(careplan.survivor_of(duplicate), "dana", "peer_specialist", LEAD)  # after the merge
    intake.publish(survivor, screening("trauma"))  # after the merge, on the survivor

    undone = PersonMergeUndoneV1(merge_id=uuid4(), survivor_id=survivor, duplicate_id=duplicate)
    intake.publish(survivor, undone)
    intake.publish(duplicate, undone)

    assert careplan.care_team(survivor) == {"alex": "care_coordinator", "dana": "peer_specialist"}
    assert careplan.care_team(duplicate) == {"robin": "clinician"}
    assert (careplan.survivor_of(duplicate), careplan.records_of(survivor)) == (duplicate, [survivor])
    kinds = {(str(r), e.kind) for r, e in careplan.merged_timeline(careplan.records_of(survivor))}
    assert (str(survivor), "screening_scored") in kinds and all(r == str(survivor) for r, _ in kinds)
    back = [e.kind for _, e in careplan.merged_timeline(careplan.records_of(duplicate))]
    assert back.count("screening_scored") == 1 and back[-1] == "merge_undone"
