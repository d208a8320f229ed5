"""Applying upstream events: each exactly once, per person in sequence, atomically with tracking.

Run on in-memory persistence and on PostgreSQL by changing only the environment.
"""

from datetime import datetime, timezone
from uuid import uuid4

import pytest

from services.careplan.application import CareplanApplication
from services.careplan.domain.timeline import Timeline
from shared.domain import OutOfSequence, UpstreamRef
from shared.following import ConcurrentChange, Unprocessable, UpstreamChange
from shared.settings import ServiceSettings
from shared.eventstore import ensure_schema
from tests.support.system import TEST_CIPHER_KEY
from tests.unit.conftest import IN_MEMORY

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)

# In memory with the aggregate cache set as the services set it (shared/settings.py), so that what
# a batch leaves in the cache is tested on both persistences.
CACHED_IN_MEMORY = {**IN_MEMORY, "AGGREGATE_CACHE_MAXSIZE": "10000", "AGGREGATE_CACHE_FASTFORWARD": "n",
                    "DEEPCOPY_FROM_AGGREGATE_CACHE": "y"}


@pytest.fixture(params=["in_memory", "postgres"])
def careplan(request):
    if request.param == "in_memory":
        env = CACHED_IN_MEMORY
    else:
        isolation = request.getfixturevalue("isolation")
        settings = ServiceSettings(service_name="careplan", database_url=isolation.database_url,
                                   event_cipher_key=TEST_CIPHER_KEY)
        ensure_schema(settings)
        env = settings.eventsourcing_env()
    application = CareplanApplication(env=env)
    yield application
    application.close()


def upstream(person_id, sequence: int, position: int | None = None, event_id: str | None = None) -> UpstreamRef:
    return UpstreamRef(source="intake", stream="intake.person", position=position or sequence,
                       event_id=event_id or str(uuid4()),
                       event_type="carecoord.intake.screening_recorded", person_id=str(person_id),
                       sequence=sequence, correlation_id="corr-1")


def test_the_next_event_is_applied_and_a_redelivery_changes_nothing(careplan):
    person = uuid4()
    registered = upstream(person, 1)
    assert careplan.add_to_timeline(registered, "person_registered", "Registered", NOW) is True
    assert careplan.add_to_timeline(registered, "person_registered", "Registered", NOW) is False
    assert [e.sequence for e in careplan.timeline(person)] == [1]


def test_another_event_at_an_applied_sequence_is_refused_with_both_ids_and_the_applied_one_stands(careplan):
    person = uuid4()
    real = upstream(person, 1)
    careplan.add_to_timeline(real, "person_registered", "Registered", NOW)
    other = upstream(person, 1, position=9)
    with pytest.raises(Unprocessable, match=f"event {other.event_id} .* but event {real.event_id} was applied"):
        careplan.add_to_timeline(other, "screening_recorded", "PHQ-9", NOW)
    assert [(e.sequence, e.kind) for e in careplan.timeline(person)] == [(1, "person_registered")]
    assert careplan.add_to_timeline(real, "person_registered", "Registered", NOW) is False, "still a duplicate"
    careplan.add_to_timeline(upstream(person, 2, position=9), "screening_recorded", "PHQ-9", NOW)
    assert [e.sequence for e in careplan.timeline(person)] == [1, 2]


def test_another_event_at_a_sequence_recorded_as_unprocessable_is_refused_as_a_conflict(careplan):
    person = uuid4()
    gap = upstream(person, 1)
    careplan.record_unprocessable(gap, "unknown version")
    other = upstream(person, 1)
    with pytest.raises(Unprocessable, match=f"but event {gap.event_id} was applied"):
        careplan.add_to_timeline(other, "person_registered", "Registered", NOW)
    assert careplan.follower(person).unprocessable == {"intake.person/1": "unknown version"}


def test_an_event_that_arrives_before_the_one_it_follows_is_refused_until_that_one_is_applied(careplan):
    person = uuid4()
    with pytest.raises(OutOfSequence, match="intake.person event 2 arrived before 1"):
        careplan.add_to_timeline(upstream(person, 2), "screening_recorded", "PHQ-9", NOW)
    assert careplan.timeline(person) is None, "nothing was saved"
    careplan.add_to_timeline(upstream(person, 1), "person_registered", "Registered", NOW)
    careplan.add_to_timeline(upstream(person, 2), "screening_recorded", "PHQ-9", NOW)
    assert [e.sequence for e in careplan.timeline(person)] == [1, 2]


def test_the_same_position_tracked_twice_is_refused_with_its_effect(careplan):
    first, second = uuid4(), uuid4()
    careplan.add_to_timeline(upstream(first, 1, position=7), "person_registered", "Registered", NOW)
    # Another person's event claiming an already-tracked position: the tracking row collides, the
    # whole transaction, effect included, rolls back, and the message is to be retried (and in the
    # end dead-lettered), not acknowledged as if it had been applied.
    with pytest.raises(ConcurrentChange):
        careplan.add_to_timeline(upstream(second, 1, position=7), "person_registered", "Registered", NOW)
    assert careplan.timeline(second) is None


def test_a_batch_applies_each_item_alone_when_one_of_them_conflicts(careplan):
    first, second, third = uuid4(), uuid4(), uuid4()
    applied = upstream(first, 1, position=7)
    careplan.add_to_timeline(applied, "person_registered", "Registered", NOW)
    batch = [
        UpstreamChange(u, lambda t, u=u: t.add_entry(u, "person_registered", "Registered", NOW))
        for u in (upstream(second, 1, position=8), upstream(third, 1, position=7), applied)
    ]
    outcomes = careplan.apply_upstream_batch(batch)
    assert outcomes[0] is True
    assert isinstance(outcomes[1], ConcurrentChange)
    assert outcomes[2] is False
    assert [e.sequence for e in careplan.timeline(second)] == [1]
    assert careplan.timeline(third) is None


def test_an_unprocessable_event_is_recorded_so_the_persons_later_events_still_flow(careplan):
    person = uuid4()
    careplan.add_to_timeline(upstream(person, 1), "person_registered", "Registered", NOW)
    careplan.record_unprocessable(upstream(person, 2), "payload invalid: answers: Field required")
    careplan.add_to_timeline(upstream(person, 3), "screening_recorded", "GAD-7", NOW)
    follower = careplan.follower(person)
    assert [e.sequence for e in follower.entries] == [1, 3]
    assert follower.unprocessable == {"intake.person/2": "payload invalid: answers: Field required"}


def test_a_redelivered_unprocessable_event_is_dead_lettered_again_not_silently_acked(careplan):
    person = uuid4()
    poison = upstream(person, 1)
    careplan.record_unprocessable(poison, "unknown version")
    with pytest.raises(Unprocessable, match="unknown version"):
        careplan.record_unprocessable(poison, "unknown version")


class ChangeBroke(Exception):
    """A change that failed for a reason no rule names (a bug), after it had begun."""


def entry(upstream_ref: UpstreamRef) -> UpstreamChange:
    return UpstreamChange(upstream_ref, lambda t: t.add_entry(upstream_ref, "screening_recorded", "PHQ-9", NOW))


def breaks_after(upstream_ref: UpstreamRef, begin) -> UpstreamChange:
    def change(timeline) -> None:
        begin(timeline)
        raise ChangeBroke(upstream_ref.key)
    return UpstreamChange(upstream_ref, change)


def test_a_change_that_fails_half_way_leaves_nothing_while_the_rest_of_its_batch_commits(careplan):
    first, second = uuid4(), uuid4()
    careplan.add_to_timeline(upstream(first, 1, position=1), "person_registered", "Registered", NOW)  # cached
    # Positions in the order they end up tracked: the in-memory recorder refuses any position
    # below the highest it has tracked.
    broken, later = upstream(first, 3, position=4), upstream(first, 4, position=5)
    outcomes = careplan.apply_upstream_batch([
        entry(upstream(first, 2, position=2)),
        breaks_after(broken, lambda t: t.add_entry(broken, "screening_recorded", "PHQ-9", NOW)),  # one event, then fails
        entry(upstream(second, 1, position=3)),
        entry(later),  # follows the failed one: it must wait for it
    ])
    assert outcomes[0] is True
    assert isinstance(outcomes[1], ChangeBroke)
    assert outcomes[2] is True
    assert isinstance(outcomes[3], OutOfSequence)
    follower_id = Timeline.create_id(person_id=first)
    for seen in (careplan.follower(first), careplan.repository.get(follower_id)):  # the store, then the cache
        assert [e.sequence for e in seen.entries] == [1, 2]
        assert seen.upstream_applied == {"intake.person": 2}
    assert [e.sequence for e in careplan.timeline(second)] == [1]
    assert careplan.apply_change(entry(broken)) is True, "the failed event applies when it comes again"
    assert careplan.apply_change(entry(later)) is True
    assert [e.sequence for e in careplan.timeline(first)] == [1, 2, 3, 4]


def test_a_change_that_fails_before_its_event_leaves_no_changed_follower_in_the_cache(careplan):
    first, second = uuid4(), uuid4()
    careplan.add_to_timeline(upstream(first, 1, position=1), "person_registered", "Registered", NOW)
    broken = upstream(first, 2, position=3)
    outcomes = careplan.apply_upstream_batch([
        breaks_after(broken, lambda t: t.upstream_applied.update({broken.stream: 2})),  # changed, no event
        entry(upstream(second, 1, position=2)),
    ])
    assert isinstance(outcomes[0], ChangeBroke)
    assert outcomes[1] is True
    assert careplan.repository.get(Timeline.create_id(person_id=first)).upstream_applied == {"intake.person": 1}
    assert careplan.apply_change(entry(broken)) is True, "applied, not taken for a duplicate"
    assert [e.sequence for e in careplan.timeline(first)] == [1, 2]
