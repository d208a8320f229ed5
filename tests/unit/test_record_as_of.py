"""Careplan's record of a person as of a moment, rebuilt from the events up to it (services/careplan/
as_of.py), on both persistences: each moment between changes shows exactly the changes before it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import NAMESPACE_URL, uuid4, uuid5

import pytest

from services.careplan.application import CareplanApplication
from services.careplan.as_of import InTheFuture, record_as_of
from shared.domain import Provenance, UpstreamRef


def upstream(person_id, sequence: int) -> UpstreamRef:
    return UpstreamRef(source="intake", stream="intake.person", position=sequence,
                       event_id=str(uuid5(NAMESPACE_URL, f"{person_id}/{sequence}")),
                       event_type="carecoord.intake.person_registered", person_id=str(person_id),
                       sequence=sequence, correlation_id="corr-as-of")


def moment() -> datetime:
    return datetime.now(timezone.utc)


def test_each_moment_shows_the_changes_before_it_and_none_after(careplan: CareplanApplication,
                                                                provenance: Provenance):
    person = uuid4()
    before = moment()
    careplan.add_to_timeline(upstream(person, 1), "person_registered", "Registered", before)
    careplan.add_team_member(person, "kim", "clinician", provenance)
    careplan.set_goal(person, "home", "Feel at home again", None, None, [], None, provenance)
    first = moment()
    careplan.remove_team_member(person, "kim", provenance)
    careplan.add_team_member(person, "lee", "peer_specialist", provenance)
    careplan.change_goal_status(person, "home", "achieved", None, provenance)
    careplan.revise_safety_plan(person, {"reasons_for_living": ["my dog"]}, 0, moment(), provenance)
    second = moment()

    assert record_as_of(careplan, person, before) is None  # careplan had not heard of them
    then = record_as_of(careplan, person, first, moment())
    assert then is not None
    assert then.team == {"kim": "clinician"} == {m["member_id"]: m["role"] for m in then.picture["team"]}
    assert [(m.member_id, m.left_at) for m in then.team_history] == [("kim", None)]
    assert then.plan is not None and then.plan.goals["home"].status == "active"
    assert [g["goal_id"] for g in then.picture["goals"]] == ["home"]
    assert then.safety_plan is None and then.picture["safety_plan"] is None

    now = record_as_of(careplan, person, second, moment())
    assert now is not None
    assert now.team == {"lee": "peer_specialist"}
    assert [(m.member_id, m.left_at is not None) for m in now.team_history] == [("kim", True), ("lee", False)]
    assert now.plan is not None and now.plan.goals["home"].status == "achieved" and now.picture["goals"] == []
    assert now.safety_plan is not None and list(now.safety_plan.current.sections["reasons_for_living"]) == ["my dog"]
    assert now.picture["safety_plan"]["version"] == 1
    # The current state, read as the live endpoints read it, is the record as of now.
    assert now.team == careplan.care_team(person)
    assert now.team_history == careplan.team_history(person)
    assert now.plan.version == careplan.care_plan(person).version


def test_a_moment_to_come_is_refused(careplan: CareplanApplication):
    now = moment()
    with pytest.raises(InTheFuture):
        record_as_of(careplan, uuid4(), now + timedelta(minutes=1), now)
