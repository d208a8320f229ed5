"""Access is decided from the few events that decide it (a team's memberships, consent directives),
read apart from the rest of a person's history, in memory and on PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import psycopg

from shared.following import UpstreamChange
from tests.unit.test_following import NOW, upstream


def test_the_team_read_from_its_events_alone_is_the_followers_team(notifications):
    person = uuid4()
    steps = [("join", "casey", "care_coordinator"), ("notice",), ("join", "kim", "clinician"),
             ("join", "casey", "supervisor"), ("leave", "kim"), ("notice",)]
    for sequence, step in enumerate(steps, start=1):
        ref = upstream(person, sequence)
        if step[0] == "join":
            notifications.apply_change(UpstreamChange(ref, lambda f: f.team_member_joined(ref, step[1], step[2])))
        elif step[0] == "leave":
            notifications.apply_change(UpstreamChange(ref, lambda f: f.team_member_left(ref, step[1])))
        else:
            notifications.apply_change(notifications.team_notice(ref, "screening", "A screening", NOW))
    assert notifications.followed_team(person) == notifications.follower(person).team == {"casey": "supervisor"}
    assert notifications.followed_team(uuid4()) == {}


def test_consent_read_from_its_events_alone_decides_what_is_shared(careplan, provenance):
    person = uuid4()
    refs = iter(upstream(person, n) for n in range(1, 10))
    careplan.apply_change(careplan.timeline_entry(next(refs), "person_registered", "Registered", NOW))
    careplan.change_plan(person, lambda plan: plan.set_goal("g1", "Sing again", None, None, [], provenance,
                                                            sharing_category="general"), provenance)

    def grant(directive_id: str, recipient: str) -> None:
        ref = next(refs)
        careplan.apply_change(UpstreamChange(ref, lambda timeline: timeline.note_consent(
            ref, "consent", NOW, directive_id, "named_person", recipient, ["general"], NOW - timedelta(days=1), None)))

    grant("d1", "aunt-rosa")
    grant("d2", "brother-tomas")
    ref = next(refs)
    careplan.apply_change(UpstreamChange(ref, lambda timeline: timeline.note_consent_revoked(
        ref, "revoked", NOW, "d2", NOW + timedelta(hours=1))))

    def seen_by(recipient: str, at=NOW + timedelta(hours=2)):
        return careplan.shared_record(person, "named_person", recipient, at)

    assert [g.goal_id for g in seen_by("aunt-rosa").goals] == ["g1"]
    assert seen_by("brother-tomas") is None  # revoked
    assert seen_by("brother-tomas", NOW).categories == {"general"}  # before the revocation
    assert seen_by("someone-else") is None
    assert careplan.shared_record(uuid4(), "named_person", "aunt-rosa", NOW) is None


def test_memberships_stored_before_the_followers_moved_module_still_decide_the_team(notifications, persistence, request):
    # Records of shared/followers.py's classes stored under shared/following.py's topics (before the
    # move) must still be found by the topic query that access decisions make.
    person = uuid4()
    for sequence, (member, role) in enumerate([("casey", "care_coordinator"), ("kim", "clinician")], start=1):
        ref = upstream(person, sequence)
        notifications.apply_change(UpstreamChange(ref, lambda f, m=member, r=role: f.team_member_joined(ref, m, r)))
    if persistence == "postgres":
        isolation = request.getfixturevalue("isolation")
        with psycopg.connect(isolation.database_url, autocommit=True) as conn:
            conn.execute("UPDATE notifications.notifications_events "
                         "SET topic = replace(topic, 'shared.followers:', 'shared.following:')")
            renamed = conn.execute("SELECT count(*) FROM notifications.notifications_events "
                                   "WHERE topic LIKE 'shared.following:TeamFollower.%'").fetchone()[0]
        assert renamed >= 2
    assert notifications.followed_team(person) == {"casey": "care_coordinator", "kim": "clinician"}
