"""The matcher and the dispatcher write the same lanes and subscription at once (in one process):
they wait for each other, so neither fails for conflicting, and numbering stays gap-free."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from services.notifications.application import NotificationsApplication
from services.notifications.domain.delivery import AttemptOutcome, lane_id
from services.notifications.domain.subscriptions import Filters, Owner
from services.notifications.match_recording import Match
from services.notifications.subscriptions_app import WebhookSubscriptions
from tests.unit.conftest import application_env

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
PEOPLE = [str(uuid4()) for _ in range(4)]


@pytest.fixture
def webhooks(request, persistence):
    application = NotificationsApplication(env=application_env(request, "notifications"))
    yield WebhookSubscriptions(application, clock=NOW.timestamp, jitter=lambda: 0.0)
    application.close()


def matches_for(subscription_id, batch: int) -> list[Match]:
    return [Match(subscription_id, f"notice-{batch}-{person}", person, "screening_positive", False, "team_only", NOW)
            for person in PEOPLE]


def test_matching_and_delivering_on_the_same_lanes_do_not_fail_each_other(webhooks):
    subscription = webhooks.subscribe(Owner("casey", "care_coordinator"), "https://receiver.example/hook",
                                      Filters(), "id-only", None)
    batches = 60
    assert webhooks.record_matches(matches_for(subscription.id, 0), 1)
    failures: list[BaseException] = []
    done = threading.Event()

    def matcher() -> None:
        try:
            for batch in range(1, batches):
                assert webhooks.record_matches(matches_for(subscription.id, batch), batch + 1) is not None
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)
        finally:
            done.set()

    def dispatcher() -> None:
        try:
            while not done.is_set():
                for sequence, person in enumerate(PEOPLE, start=1):
                    webhooks.record_attempt(lane_id(subscription.id, person, False), subscription.id, sequence, NOW,
                                            AttemptOutcome(500, None, 3), (1.0,) * 100_000, None, False)
        except BaseException as error:  # noqa: BLE001
            failures.append(error)

    threads = [threading.Thread(target=matcher), threading.Thread(target=dispatcher)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    numbered = [event.sequence for event in webhooks.matched_events(subscription.id, 0, 10_000)]
    assert numbered == list(range(1, batches * len(PEOPLE) + 1))
    assert webhooks.subscription(subscription.id).events_since_start == batches * len(PEOPLE)
    assert webhooks.matched_position() == batches
    queued = sorted(item.sequence for item in webhooks.deliveries(subscription.id, None))
    assert queued == numbered


def test_recorded_matches_name_the_log_positions_of_their_lane_events(webhooks):
    """The dispatcher, told of these in-process, skips them when it reads the log: they must be
    exactly the lane events of that commit, neither the subscription's nor another commit's."""
    from services.notifications.delivery.dispatch import LANE_TOPICS

    subscription = webhooks.subscribe(Owner("casey", "care_coordinator"), "https://receiver.example/hook",
                                      Filters(), "id-only", None)
    first = webhooks.record_matches(matches_for(subscription.id, 0), 1)
    second = webhooks.record_matches(matches_for(subscription.id, 1), 2)
    lane_events = webhooks.application.recorder.select_notifications(0, 100, topics=sorted(LANE_TOPICS))
    lanes = {lane_id(subscription.id, person, False) for person in PEOPLE}
    assert set(first.lanes) == set(second.lanes) == lanes
    assert len(first.positions) == len(second.positions) == len(PEOPLE)
    assert sorted(first.positions + second.positions) == [n.id for n in lane_events]
    assert max(first.positions) < min(second.positions)


def test_attempts_on_many_lanes_are_recorded_together_and_a_bad_one_alone_fails(webhooks):
    """The dispatcher records the attempts that finished meanwhile in one transaction: each lane
    gets its own attempt, the subscription hears of every failure, and an attempt on an item that
    does not exist gets its error without keeping the others from being recorded."""
    from services.notifications.delivery.attempts import AttemptMade
    from services.notifications.domain.delivery import DELIVERED, PENDING

    subscription = webhooks.subscribe(Owner("casey", "care_coordinator"), "https://receiver.example/hook",
                                      Filters(), "id-only", None)
    webhooks.record_matches(matches_for(subscription.id, 0), 1)
    lanes = [lane_id(subscription.id, person, False) for person in PEOPLE]
    ok, failed = AttemptOutcome(204, None, 3), AttemptOutcome(500, None, 4)
    recorded = webhooks.record_attempts([
        AttemptMade(lanes[0], subscription.id, 1, NOW, ok, (1.0,)),
        AttemptMade(lanes[1], subscription.id, 2, NOW, failed, (1.0,)),
        AttemptMade(lanes[2], subscription.id, 99, NOW, ok, (1.0,)),  # no such item
        AttemptMade(lanes[3], subscription.id, 4, NOW, failed, (1.0,)),
    ])
    assert [r.item.status if not isinstance(r, Exception) else "error" for r in recorded] == [
        DELIVERED, PENDING, "error", PENDING]
    assert recorded[0].lane.head is None and recorded[1].lane.head.sequence == 2  # the lanes as saved
    assert webhooks.subscription(subscription.id).failing_since == NOW
    by_sequence = {item.sequence: item for item in webhooks.deliveries(subscription.id, None)}
    assert [len(by_sequence[n].history) for n in (1, 2, 3, 4)] == [1, 1, 0, 1]
    assert by_sequence[3].status == PENDING
