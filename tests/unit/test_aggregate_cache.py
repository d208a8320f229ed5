"""Commands trust each process's aggregate cache (no fast-forward query per load). When another
process has written the same aggregate, the stale copy must cost a retry, never a lost or wrong
write, and queries must answer from the store."""

from datetime import datetime, timezone
from unittest.mock import patch
from uuid import NAMESPACE_URL, uuid4, uuid5

import pytest
from eventsourcing.persistence import RecordConflictError

from services.careplan.application import CareplanApplication
from services.intake.application import IntakeApplication, MergePeople
from shared.domain import Provenance, UpstreamRef
from shared.eventstore import ensure_schema
from shared.following import ConcurrentChange, UpstreamChange
from shared.settings import ServiceSettings
from tests.support.system import TEST_CIPHER_KEY

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
PROVENANCE = Provenance(actor_id="agency-7", actor_role="agency_system", correlation_id="corr-1")


def two_processes(isolation, application_class, service_name):
    """Two applications on one database, like two replicas of a service."""
    settings = ServiceSettings(service_name=service_name, database_url=isolation.database_url,
                               event_cipher_key=TEST_CIPHER_KEY)
    ensure_schema(settings)
    return application_class(env=settings.eventsourcing_env()), application_class(env=settings.eventsourcing_env())


@pytest.fixture
def intakes(isolation):
    first, second = two_processes(isolation, IntakeApplication, "intake")
    yield first, second
    first.close()
    second.close()


@pytest.fixture
def careplans(isolation):
    first, second = two_processes(isolation, CareplanApplication, "careplan")
    yield first, second
    first.close()
    second.close()


def upstream(person_id, sequence: int) -> UpstreamRef:
    # The same event delivered to each replica: the same id, as intake's relay publishes it.
    return UpstreamRef(source="intake", stream="intake.person", position=sequence,
                       event_id=str(uuid5(NAMESPACE_URL, f"{person_id}/{sequence}")),
                       event_type="carecoord.intake.screening_recorded", person_id=str(person_id),
                       sequence=sequence, correlation_id="corr-1")


def test_a_command_on_a_stale_cached_person_is_retried_on_the_stored_one(intakes):
    one, other = intakes
    person = one.register_person("north", "42", "Sam", None, PROVENANCE).person_id  # cached in `one`
    other.record_screening(person, uuid4(), "PHQ-9", {"item1": 1}, PROVENANCE)  # `one`'s copy is now stale
    one.record_screening(person, uuid4(), "PHQ-9", {"item1": 2}, PROVENANCE)
    assert len(one.get_person(person).screenings) == 2
    assert len(other.get_person(person).screenings) == 2


def test_queries_answer_from_the_store_not_from_a_stale_cache(intakes):
    one, other = intakes
    person = one.register_person("north", "42", "Sam", None, PROVENANCE).person_id
    other.record_screening(person, uuid4(), "PHQ-9", {"item1": 1}, PROVENANCE)
    assert len(one.get_person(person).screenings) == 1


def test_a_follower_stale_in_the_cache_is_reloaded_and_the_event_applied_once(careplans):
    one, other = careplans
    person = uuid4()
    one.add_to_timeline(upstream(person, 1), "person_registered", "Registered", NOW)  # cached in `one`
    other.add_to_timeline(upstream(person, 2), "screening_recorded", "PHQ-9", NOW)  # e.g. after a failover
    # `one` still thinks 1 is the last applied, so 2 looks new: the save is refused and, with the
    # stored follower, recognised as already applied (False), not applied twice.
    assert one.add_to_timeline(upstream(person, 2), "screening_recorded", "PHQ-9", NOW) is False
    assert one.add_to_timeline(upstream(person, 3), "screening_recorded", "GAD-7", NOW) is True
    assert [e.sequence for e in one.timeline(person)] == [1, 2, 3]
    assert [e.sequence for e in other.timeline(person)] == [1, 2, 3]


def test_a_failed_command_leaves_the_cached_aggregate_untouched(careplans):
    one, _ = careplans
    person = uuid4()
    one.add_to_timeline(upstream(person, 1), "person_registered", "Registered", NOW)
    with pytest.raises(ConcurrentChange):  # position 1 is already tracked: the save is refused
        one.apply_change(one.timeline_entry(
            UpstreamRef(source="intake", stream="intake.person", position=1, event_id=str(uuid4()), event_type="x", person_id=str(person),
                        sequence=2, correlation_id="c"), "screening_recorded", "PHQ-9", NOW))
    assert one.add_to_timeline(upstream(person, 2), "screening_recorded", "PHQ-9", NOW) is True
    assert [e.sequence for e in one.timeline(person)] == [1, 2]


def team_upstream(person_id, sequence: int, position: int) -> UpstreamRef:
    return UpstreamRef(source="careplan", stream="careplan.care_team", position=position, event_id=str(uuid4()),
                       event_type="carecoord.careplan.team_member_joined", person_id=str(person_id),
                       sequence=sequence, correlation_id="corr-1")


def test_access_checks_see_what_another_replica_stored_since_they_last_looked(intakes):
    """record_context keeps a copy of each aggregate and fast-forwards it: never stale, never replayed whole."""
    one, other = intakes
    north = one.register_person("north", "42", "Sam", None, PROVENANCE).person_id
    south = one.register_person("south", "S-7", "Sam", None, PROVENANCE).person_id
    assert one.record_context(north).team == frozenset()  # `one` now keeps copies of both
    other.apply_change(UpstreamChange(team_upstream(north, 1, 1), lambda view: view.care_team_formed(
        team_upstream(north, 1, 1))))
    other.apply_change(UpstreamChange(team_upstream(north, 2, 2), lambda view: view.team_member_joined(
        team_upstream(north, 2, 2), "alex", "care_coordinator")))
    other.execute(MergePeople(north, south, "same person", PROVENANCE))
    context = one.record_context(north)
    assert context.team == frozenset({"alex"})
    assert context.also_registered_by == frozenset({"south"})


def test_a_refused_batch_leaves_no_half_changed_person_in_the_cache(intakes):
    """Batches change the cached aggregate itself (checked out, no deep copy): a failed save must
    not leave the change behind in the cache."""
    one, other = intakes
    person = one.register_person("north", "42", "Sam", None, PROVENANCE).person_id
    other.record_screening(person, uuid4(), "PHQ-9", {"item1": 1}, PROVENANCE)  # `one`'s copy is now stale
    with patch("services.intake.application.CONFLICT_ATTEMPTS", 1), pytest.raises(RecordConflictError):
        one.record_screening(person, uuid4(), "PHQ-9", {"item1": 2}, PROVENANCE)
    assert one.repository.cache is not None
    with pytest.raises(KeyError):
        one.repository.cache.get(person)
    one.record_screening(person, uuid4(), "PHQ-9", {"item1": 3}, PROVENANCE)
    assert len(one.get_person(person).screenings) == 2  # the refused screening left no trace


def test_replaying_a_history_builds_what_eventsourcing_s_projector_builds():
    from eventsourcing.application import project_aggregate

    from services.intake.domain.person import Person
    from shared.eventstore import replay

    person = Person("agency-7", "p-1", "Sam", None, PROVENANCE)
    person.amend_details({"preferred_name": "Samantha"}, PROVENANCE)
    history = person.collect_events()
    replayed = replay(None, history)
    projected = project_aggregate(None, history)
    assert {k: v for k, v in vars(replayed).items() if k != "_pending_events"} == {
        k: v for k, v in vars(projected).items() if k != "_pending_events"}
    assert replayed.version == 2 and replayed.preferred_name == "Samantha"
    assert replay(replayed, []) is replayed
