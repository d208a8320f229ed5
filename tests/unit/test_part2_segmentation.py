"""Substance-use records segmented by program (shared/part2.py), decided in memory: who sees a Part 2
record, what is one, and that the picture withholds it without hiding a crisis."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from services.careplan.domain.care_team import CareTeam
from services.careplan.picture.document import Picture
from services.careplan.picture.view import present
from shared.consent import ConsentDirective
from shared.part2 import Program, UnknownProgramKind, about_substance_use, check_program, may_see_part2

NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
HOUSING = Program("housing-first", "other")
RECOVERY = Program("recovery-clinic", "part2")


def directive(kind: str, recipient: str | None, *categories: str, revoked: bool = False) -> ConsentDirective:
    found = ConsentDirective("d1", kind, recipient, categories, NOW - timedelta(days=1), None)
    return found.revoked(NOW - timedelta(hours=1)) if revoked else found


@pytest.mark.parametrize(("reader", "directives", "sees"), [
    (None, [], True),  # no program recorded: the team is the treating program, as before
    (RECOVERY, [], True),  # a member of a Part 2 program
    (HOUSING, [], False),  # another program, no consent
    (HOUSING, [directive("program", "housing-first", "substance_use")], True),
    (HOUSING, [directive("care_team", None, "substance_use")], True),
    (HOUSING, [directive("program", "primary-care", "substance_use")], False),  # another program named
    (HOUSING, [directive("program", "housing-first", "general", "mental_health", "crisis")], False),  # never implied
    (HOUSING, [directive("program", "housing-first", "substance_use", revoked=True)], False),
    (HOUSING, [directive("named_person", "housing-first", "substance_use")], False),  # a person, not the program
])
def test_who_sees_part2_records(reader, directives, sees):
    assert may_see_part2(reader, directives, NOW) is sees


@pytest.mark.parametrize(("given", "part2"), [
    ({"domain": "substance_use"}, True), ({"domain": "suicide_risk"}, False), ({"domain": "mental_health"}, False),
    ({"instrument": "AUDIT-C"}, True), ({"instrument": "DAST-10"}, True), ({"instrument": "PHQ-9"}, False),
    ({"category": "substance_use"}, True), ({"category": "general"}, False), ({"category": None}, False),
])
def test_what_is_about_substance_use(given, part2):
    assert about_substance_use(**given) is part2


def test_a_program_is_given_whole_or_not_at_all():
    assert check_program(None, None) is None
    assert check_program("recovery-clinic", "part2") == RECOVERY
    for program_id, kind in (("x", None), (None, "part2"), ("x", "detox")):
        with pytest.raises(UnknownProgramKind):
            check_program(program_id, kind)


def test_a_member_joins_with_a_program_and_a_change_of_program_is_a_change(provenance):
    team = CareTeam(uuid4(), provenance)
    assert team.add_member("sam", "clinician", provenance, program=RECOVERY)
    assert not team.add_member("sam", "clinician", provenance, program=RECOVERY)
    assert team.add_member("sam", "clinician", provenance, program=HOUSING)
    assert team.program_of("sam") == HOUSING
    team.remove_member("sam", provenance)
    assert team.program_of("sam") is None


def picture_with_part2_records() -> Picture:
    picture = Picture(person_id=str(uuid4()))
    picture.screenings = {
        "substance_use": {"screening_id": "s-audit", "instrument": "AUDIT-C", "domain": "substance_use", "total": 6,
                          "band": None, "positive": True, "flags": [], "complete": True,
                          "scored_at": NOW.isoformat(), "part2": True},
        "suicide_risk": {"screening_id": "s-cssrs", "instrument": "C-SSRS", "domain": "suicide_risk", "total": None,
                         "band": "high", "positive": True, "flags": ["high_risk"], "complete": True,
                         "scored_at": NOW.isoformat(), "part2": False},
    }
    picture.crisis_contacts = [{"contact_id": "c1", "kind": "crisis_line_call", "occurred_at": NOW.isoformat(),
                                "outcome": "resolved_in_community", "follow_up_due": NOW.isoformat()}]
    picture.plan = {"started_on": "2026-01-05", "version": 1, "last_reviewed_on": "2026-01-05", "last_review": None,
                    "agreement": None}
    picture.review_prompts = [
        {"reason": "positive_screening", "reference": "s-audit-before", "on": "2026-02-01", "part2": True},
        {"reason": "positive_screening", "reference": "s-audit", "on": "2026-03-01", "part2": True},
        {"reason": "positive_screening", "reference": "s-cssrs", "on": "2026-03-01"},
    ]
    picture.medication_notes = [
        {"note_id": "n-bup", "kind": "person_says", "text": "buprenorphine helps", "part2": True},
        {"note_id": "n-sleep", "kind": "effects_noticed", "text": "sleeping better", "part2": False},
    ]
    return picture


def test_the_picture_withholds_part2_records_and_says_so_but_never_hides_a_crisis():
    view = present(picture_with_part2_records(), NOW, part2_shown=False)
    assert [s["domain"] for s in view["screenings"]] == ["suicide_risk"]
    assert view["positive_domains"] == ["suicide_risk"] and not view["co_occurring_needs"]
    assert [c["contact_id"] for c in view["crisis_contacts"]] == ["c1"]
    assert [n["note_id"] for n in view["medication_notes"]] == ["n-sleep"]
    assert {w["section"]: w["count"] for w in view["withheld"]} == {"screenings": 1, "medication_notes": 1}
    # The withheld results still make the review due now; which results they were is not said.
    assert view["next_review"] == {"due_on": "2026-02-01", "prompted_by": ["positive_screening:s-cssrs"]}
    assert "buprenorphine" not in str(view) and "AUDIT-C" not in str(view) and "s-audit" not in str(view)


def test_with_consent_the_picture_is_whole():
    view = present(picture_with_part2_records(), NOW, part2_shown=True)
    assert {s["domain"] for s in view["screenings"]} == {"substance_use", "suicide_risk"}
    assert len(view["medication_notes"]) == 2 and view["withheld"] == []
    assert len(view["next_review"]["prompted_by"]) == 3


def test_members_and_medication_notes_stored_before_programs_read_back_without_them(careplan):
    from services.careplan.domain.medication import MedicationCollaboration
    from shared.domain import Provenance
    from tests.support.history import store_as_recorded

    stored_by = Provenance("casey", "clinician", "corr-1")
    person_id = uuid4()
    team_id, record_id = CareTeam.create_id(person_id), MedicationCollaboration.create_id(person_id)
    store_as_recorded(careplan, team_id, [
        ("services.careplan.domain.care_team:CareTeam.Formed",
         {"originator_topic": "services.careplan.domain.care_team:CareTeam", "person_id": person_id,
          "provenance": stored_by}),
        ("services.careplan.domain.care_team:CareTeam.MemberJoined",
         {"person_id": person_id, "member_id": "casey", "role": "clinician", "provenance": stored_by}),
    ])
    store_as_recorded(careplan, record_id, [
        ("services.careplan.domain.medication:MedicationCollaboration.Opened",
         {"originator_topic": "services.careplan.domain.medication:MedicationCollaboration",
          "person_id": person_id, "provenance": stored_by}),
        ("services.careplan.domain.medication:MedicationCollaboration.NoteAdded",
         {"person_id": person_id, "note_id": "n1", "kind": "person_says", "text": "fine", "medication": None,
          "choice": None, "author_role": "clinician", "provenance": stored_by}),
    ])
    assert careplan.care_team(person_id) == {"casey": "clinician"} and careplan.team_programs(person_id) == {}
    assert [e.program_id for e in careplan.events.get(team_id) if isinstance(e, CareTeam.MemberJoined)] == [None]
    assert [note.part2 for note in careplan.medication_record(person_id).notes] == [False]
    assert careplan.may_see_part2(person_id, "casey", NOW)


def test_a_note_or_decision_by_a_member_of_a_part2_program_is_marked_so_and_stays_so(careplan):
    from shared.domain import Provenance

    person_id = uuid4()
    supervisor = Provenance("sam", "supervisor", "corr-2")
    careplan.add_team_member(person_id, "rita", "prescriber", supervisor, RECOVERY)
    careplan.add_team_member(person_id, "hana", "case_manager", supervisor, HOUSING)
    rita, hana = Provenance("rita", "prescriber", "corr-3"), Provenance("hana", "case_manager", "corr-4")
    careplan.add_medication_note(person_id, "n-rita", "person_says", "methadone helps", None, None, "prescriber", rita)
    careplan.add_medication_note(person_id, "n-hana", "help_given", "a ride", None, None, "case_manager", hana)
    careplan.record_prescribing_decision(person_id, "d1", "dose", "methadone", "60 mg", "steady", True,
                                         "prescriber", rita)
    careplan.remove_team_member(person_id, "rita", supervisor)
    record = careplan.medication_record(person_id)
    assert [(n.note_id, n.part2) for n in record.notes] == [("n-rita", True), ("n-hana", False)]
    assert [d.part2 for d in record.decisions] == [True]
    assert not careplan.may_see_part2(person_id, "hana", datetime.now(timezone.utc))
