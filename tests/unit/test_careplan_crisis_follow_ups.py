"""Careplan publishes each crisis follow-up it records, with the plan's record in one save."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

from services.careplan.domain.crisis_follow_ups import CrisisFollowUps
from services.careplan.translation import TRANSLATIONS
from shared.contracts.careplan import CrisisFollowUpRecordedV1
from shared.following import UpstreamChange
from shared.relay import to_integration_event
from tests.unit.test_following import NOW, careplan, upstream  # noqa: F401 - careplan is a fixture


def test_a_recorded_follow_up_is_published_on_the_person_s_crisis_follow_up_stream(careplan, provenance):  # noqa: F811
    person = uuid4()
    for sequence, contact_id in ((1, "c-1"), (2, "c-2")):
        cause = upstream(person, sequence)
        careplan.apply_change(UpstreamChange(cause, lambda t, cause=cause, contact_id=contact_id: t.note_crisis_contact(
            cause, "crisis", contact_id, "crisis_call", NOW, "resolved_in_community", NOW + timedelta(days=1))))

    assert careplan.record_crisis_follow_up(person, "c-1", date(2026, 11, 24), "Called, doing well", provenance)
    assert not careplan.record_crisis_follow_up(person, "c-1", date(2026, 11, 25), None, provenance)  # the first stands
    assert careplan.record_crisis_follow_up(person, "c-2", date(2026, 11, 25), None, provenance)

    published = [to_integration_event("careplan", n, event, TRANSLATIONS[type(event)](event)).event
                 for n, event in enumerate(careplan.events.get(CrisisFollowUps.create_id(person)), start=1)]
    assert [(e.stream, e.person_sequence, e.routing_key, e.payload) for e in published] == [
        ("careplan.crisis_follow_ups", 1, "careplan.crisis_follow_ups.recorded",
         {"contact_id": "c-1", "followed_up_on": "2026-11-24"}),
        ("careplan.crisis_follow_ups", 2, "careplan.crisis_follow_ups.recorded",
         {"contact_id": "c-2", "followed_up_on": "2026-11-25"}),
    ]
    assert all(str(e.person_id) == str(person) for e in published)
    assert "Called" not in str(published)  # the note stays in the plan
    assert CrisisFollowUpRecordedV1.model_validate(published[0].payload).contact_id == "c-1"
    assert set(careplan.care_plan(person).crisis_follow_ups) == {"c-1", "c-2"}
