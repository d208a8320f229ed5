"""A person's history: the index the store keeps (in memory and on PostgreSQL), the lines made of
it, what the person sees of their own, and the merge of several services' streams."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from uuid import uuid4

from carecoord.audit.merging import merge_histories
from shared.domain import Provenance, UpstreamRef
from shared.envelope import stable_event_id
from shared.person_history import as_seen_by_person, decode_state, history_line
from shared.person_index import HistoryFilter, person_of

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
PERSON = uuid4()


def test_each_event_is_indexed_under_its_person_and_read_back_by_position_with_filters(intake, provenance):
    sam = intake.register_person("north", "1", "Sam", None, provenance)
    kim = intake.register_person("north", "2", "Kim", None, provenance)
    for person in (sam, kim, sam):
        intake.record_screening(person.person_id, uuid4(), "GAD-7", {"item1": 1}, provenance)

    def history(**given):
        return [(originator_id, topic.partition(":")[2], position)
                for position, _, originator_id, _, topic, _ in intake.person_history(HistoryFilter(sam.person_id, **given))]

    whole = history()
    assert [name for _, name, _ in whole] == ["Person.Registered", "Person.ScreeningCompleted",
                                              "Person.ScreeningCompleted"]
    assert {originator for originator, _, _ in whole} == {sam.person_id}
    positions = [position for _, _, position in whole]
    assert positions == sorted(positions)
    assert history(after=positions[0], limit=1) == whole[1:2]
    assert history(types=("ScreeningCompleted",)) == whole[1:] == history(types=("Person.ScreeningCompleted",))
    times = [row[1] for row in intake.person_history(HistoryFilter(sam.person_id))]
    assert history(since=times[1]) == whole[1:] and history(until=times[1]) == whole[:1]


def test_the_person_of_an_event_is_its_own_its_upstream_events_or_its_aggregates():
    upstream = UpstreamRef("intake", "intake.person", 7, str(uuid4()), "x", str(PERSON), 1, "corr")
    assert person_of(SimpleNamespace(person_id=PERSON)) == PERSON
    assert person_of(SimpleNamespace(upstream=upstream)) == PERSON
    assert person_of(SimpleNamespace(), SimpleNamespace(person_id=str(PERSON))) == PERSON  # a webhook lane's attempt
    assert person_of(SimpleNamespace(), SimpleNamespace()) is None  # a subscription's settings
    assert person_of(SimpleNamespace(person_id="not-one-of-our-ids")) is None


def _line(service, position, topic, **state):
    return history_line(service, position, T0, PERSON, 3, topic, {"timestamp": T0.isoformat(), **state}, PERSON)


def test_a_stored_state_decodes_to_the_plain_fields_it_was_recorded_with(intake, provenance):
    sam = intake.register_person("north", "1", "Sam", None, provenance)
    screening_id = uuid4()
    intake.record_screening(sam.person_id, screening_id, "GAD-7", {"item1": 1}, provenance)
    *_, (position, at, originator_id, version, topic, plaintext) = intake.person_history(HistoryFilter(sam.person_id))
    line = history_line("intake", position, at, originator_id, version, topic, decode_state(plaintext), sam.person_id)
    assert line["data"]["screening_id"] == str(screening_id) and line["data"]["answers"] == {"item1": 1}
    assert (line["actor_id"], line["actor_role"], line["correlation_id"]) == ("agency-7", "agency_system", "corr-1")
    assert line["event_id"] == str(stable_event_id("intake", originator_id, version))
    assert json.loads(json.dumps(line)) == line  # plain JSON all through


def test_a_line_names_the_actor_or_for_what_a_service_did_itself_the_cause():
    line = _line("intake", 12, "services.intake.domain.person:Person.ScreeningCompleted",
                 provenance=Provenance("casey", "care_coordinator", "corr-1").as_dict(), fingerprint="abc",
                 answers={"item1": 1})
    assert (line["type"], line["actor_id"], line["actor_role"], line["correlation_id"], line["caused_by"]) == (
        "Person.ScreeningCompleted", "casey", "care_coordinator", "corr-1", None)
    assert line["data"] == {"fingerprint": "abc", "answers": {"item1": 1}}
    cause = UpstreamRef("intake", "intake.person", 12, line["event_id"], "carecoord.intake.x", str(PERSON), 3, "corr-1")
    effect = _line("careplan", 5, "m:Timeline.EntryAdded", upstream=cause.as_dict())
    assert (effect["actor_id"], effect["actor_role"], effect["correlation_id"], effect["causation_id"]) == (
        "careplan", "service", "corr-1", line["event_id"])
    assert effect["caused_by"]["source"] == "intake" and effect["caused_by"]["position"] == 12

    seen = as_seen_by_person(line, PERSON, ["UpstreamEventUnprocessable"], ["fingerprint"])
    assert seen is not None
    assert (seen["actor_id"], seen["actor_role"], seen["data"]) == (None, "care_coordinator", {"answers": {"item1": 1}})
    assert as_seen_by_person(line, PERSON, ["ScreeningCompleted"], []) is None
    own = {**line, "actor_id": str(PERSON), "actor_role": "person"}
    assert as_seen_by_person(own, PERSON, [], [])["actor_id"] == str(PERSON)  # type: ignore[index]


def _at(service: str, position: int, seconds: float, cause: tuple[str, int] | None = None):
    caused_by = {"source": cause[0], "position": cause[1], "event_id": "e", "type": "t"} if cause else None
    return T0 + timedelta(seconds=seconds), {"service": service, "position": position, "caused_by": caused_by}


def _merged(**streams):
    return [(line["service"], line["position"]) for line in merge_histories({s: iter(v) for s, v in streams.items()})]


def test_the_merge_is_in_time_order():
    assert _merged(intake=[_at("intake", 1, 0), _at("intake", 4, 3)],
                   careplan=[_at("careplan", 2, 1), _at("careplan", 9, 5)],
                   notifications=[_at("notifications", 1, 2)]) == [
        ("intake", 1), ("careplan", 2), ("notifications", 1), ("intake", 4), ("careplan", 9)]


def test_an_effect_stamped_before_its_cause_waits_for_it_and_its_service_keeps_its_order():
    # Careplan's clock is behind: its effect of intake#5 is stamped before intake#5 itself.
    assert _merged(intake=[_at("intake", 1, 0), _at("intake", 5, 10)],
                   careplan=[_at("careplan", 3, 8, cause=("intake", 5)), _at("careplan", 4, 9)]) == [
        ("intake", 1), ("intake", 5), ("careplan", 3), ("careplan", 4)]


def test_an_effect_whose_cause_is_not_in_the_history_is_listed_by_time():
    # intake#5 is left out (a filter): once intake has passed position 5, careplan's line goes.
    assert _merged(intake=[_at("intake", 1, 0), _at("intake", 6, 20)],
                   careplan=[_at("careplan", 3, 8, cause=("intake", 5))]) == [
        ("intake", 1), ("careplan", 3), ("intake", 6)]
    # Intake is not merged at all.
    assert _merged(careplan=[_at("careplan", 3, 8, cause=("intake", 5))]) == [("careplan", 3)]
    # Until intake has passed the cause's position, the cause may still come: the effect waits
    # (here behind a later intake line: causes first is the rule, time order the preference).
    assert _merged(intake=[_at("intake", 1, 30)], careplan=[_at("careplan", 3, 8, cause=("intake", 5))]) == [
        ("intake", 1), ("careplan", 3)]


def test_causes_across_services_in_both_directions():
    # careplan#2 (a team) -> intake#3 (intake's team view) -> ... intake#4 (a screening) -> careplan#5
    assert _merged(intake=[_at("intake", 3, 1, cause=("careplan", 2)), _at("intake", 4, 2)],
                   careplan=[_at("careplan", 2, 1.5), _at("careplan", 5, 1.9, cause=("intake", 4))]) == [
        ("careplan", 2), ("intake", 3), ("intake", 4), ("careplan", 5)]




def test_a_persons_webhook_deliveries_are_in_their_history(request, persistence):
    """A lane's opening names the person, its queued items and attempts do not: they are indexed
    under the person the lane was opened for, with no work of the lane's own."""
    from services.notifications.application import NotificationsApplication
    from services.notifications.domain.delivery import AttemptOutcome, lane_id
    from services.notifications.domain.subscriptions import Filters, Owner
    from services.notifications.match_recording import Match
    from services.notifications.subscriptions_app import WebhookSubscriptions
    from tests.unit.conftest import application_env

    application = NotificationsApplication(env=application_env(request, "notifications"))
    try:
        webhooks = WebhookSubscriptions(application, clock=T0.timestamp, jitter=lambda: 0.0)
        subscription = webhooks.subscribe(Owner("casey", "care_coordinator"), "https://receiver.example/hook",
                                          Filters(), "id-only", None)
        person, other = uuid4(), uuid4()
        webhooks.record_matches([Match(subscription.id, f"notice-{who}", str(who), "screening_positive", False,
                                       "team_only", T0) for who in (person, other)], 1)
        webhooks.record_attempt(lane_id(subscription.id, str(person), False), subscription.id, 1, T0,
                                AttemptOutcome(200, None, 3), (1.0,), None, False)
        types = [topic.partition(":")[2] for *_, topic, _ in application.person_history(HistoryFilter(person))]
    finally:
        application.close()
    assert "DeliveryLane.Opened" in types and "DeliveryLane.Queued" in types and "DeliveryLane.Attempted" in types
    assert "Subscription.NoticeMatched" in types  # the subscription's event names the person
    assert "Subscription.Created" not in types  # about no one person
