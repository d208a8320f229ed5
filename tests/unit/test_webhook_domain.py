"""Webhook subscriptions' rules about time, tested with a clock moved by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from services.notifications.delivery.addresses import AddressPolicy, AddressRefused
from services.notifications.domain.delivery import (
    PARKED, PENDING, ROUTINE_RETRY_DELAYS, URGENT_RETRY_DELAYS, AttemptOutcome, DeliveryLane, next_attempt_at,
    webhook_id)
from services.notifications.domain.subscriptions import (
    DISABLED, Filters, Owner, QuietHours, Subscription, new_secret, owner_refusal)
from shared.consent import ConsentDirective
from shared.domain import InvalidField
from tests.support.clock import FakeClock

START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
FAILED = AttemptOutcome(500, None, 12)
TIMED_OUT = AttemptOutcome(None, "timeout", 10_000)
OK = AttemptOutcome(204, None, 8)


def subscription(**filters) -> Subscription:
    return Subscription.open(uuid4(), Owner("casey", "care_coordinator"), "https://app.example/hooks",
                             Filters(**filters), "id-only", new_secret(), START)


def lane_with(*sequences: int, urgent: bool = False) -> DeliveryLane:
    lane = DeliveryLane(subscription_id=uuid4(), person_id=str(uuid4()), urgent=urgent)
    for sequence in sequences:
        lane.queue(sequence=sequence, notification_id=str(uuid4()), kind="crisis", category="crisis",
                   occurred_at=START, at=START)
    return lane


def test_a_secret_is_whsec_and_at_least_24_random_bytes():
    import base64
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    assert new_secret() != secret


def test_routine_retries_follow_the_schedule_then_park():
    clock = FakeClock(START.timestamp())
    lane = lane_with(1)
    waits = []
    while lane.items[1].status == PENDING:
        now = datetime.fromtimestamp(clock(), UTC)
        lane.record_attempt(1, now, FAILED, ROUTINE_RETRY_DELAYS, jitter=0.0)
        if lane.items[1].status == PENDING:
            waits.append((lane.items[1].due_at - now).total_seconds())
            clock.now = lane.items[1].due_at.timestamp()
    assert waits == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert lane.items[1].status == PARKED and lane.items[1].attempts == 8
    assert lane.items[1].last_result == "gave up after 8 attempts: last 500"


def test_urgent_retries_are_fast_and_last_about_an_hour():
    assert URGENT_RETRY_DELAYS[0] <= 2 and 3000 <= sum(URGENT_RETRY_DELAYS) <= 4000


def test_jitter_stays_within_a_fifth_and_retry_after_is_honoured():
    assert next_attempt_at(START, 2, ROUTINE_RETRY_DELAYS, -1.0) == START + timedelta(seconds=240)
    assert next_attempt_at(START, 2, ROUTINE_RETRY_DELAYS, 1.0) == START + timedelta(seconds=360)
    assert next_attempt_at(START, 1, ROUTINE_RETRY_DELAYS, 0.0, retry_after=120) == START + timedelta(seconds=120)
    assert next_attempt_at(START, 8, ROUTINE_RETRY_DELAYS, 0.0) is None


def test_a_lane_sends_in_sequence_order_one_head_at_a_time():
    lane = lane_with(3, 1, 2)
    assert lane.head().sequence == 1
    lane.record_attempt(1, START, TIMED_OUT, ROUTINE_RETRY_DELAYS, 0.0)
    assert lane.head().sequence == 1 and lane.items[1].last_result == "timeout"  # retried before the next
    lane.record_attempt(1, START, OK, ROUTINE_RETRY_DELAYS, 0.0)
    assert lane.head().sequence == 2
    lane.suppress(sequence=2, at=START, reason="not on the person's care team")
    assert lane.head().sequence == 3


def test_replay_requeues_one_or_all_parked_since_a_time():
    lane = lane_with(1, 2)
    for sequence in (1, 2):
        lane.park(sequence=sequence, at=START, reason="gave up")
    assert lane.replayable(None, START + timedelta(seconds=1)) == []
    assert lane.replayable(None, START) == [1, 2]
    assert lane.replayable(2, None) == [2]
    lane.requeue(sequence=2, at=START)
    assert lane.head().sequence == 2 and lane.head().attempts == 0 and lane.replayable(2, None) == []


def test_during_a_rotation_both_secrets_sign_until_the_overlap_ends():
    s = subscription()
    old = s.signing_secrets(START)[0]
    s.rotate_secret(new_secret="whsec_bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3", at=START, overlap_ends=START + timedelta(hours=24))
    assert s.signing_secrets(START + timedelta(hours=23)) == ["whsec_bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3", old]
    assert s.signing_secrets(START + timedelta(hours=24)) == ["whsec_bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3"]


def test_a_subscription_failing_for_five_days_is_disabled_and_a_success_resets_it():
    clock = FakeClock(START.timestamp())
    s = subscription()

    def at() -> datetime:
        return datetime.fromtimestamp(clock(), UTC)
    s.note_failure(at())
    clock.advance(4 * 86400)
    s.note_success(at())
    s.note_failure(at())
    clock.advance(5 * 86400 - 1)
    s.note_failure(at())
    assert s.active
    clock.advance(1)
    s.note_failure(at())
    assert s.status == DISABLED and "5 days" in s.disabled_reason


def test_filters_and_settings():
    wants = Filters(kinds=("crisis",), min_urgency="urgent", team_member="casey").wants
    assert wants("crisis", True, "p", {"casey"})
    assert not wants("crisis", False, "p", {"casey"})
    assert not wants("crisis", True, "p", {"riley"})
    assert not wants("screening_positive", True, "p", {"casey"})
    with pytest.raises(InvalidField) as refused:
        subscription(min_urgency="whenever")
    assert refused.value.field == "min_urgency"


def test_quiet_hours_wrap_midnight():
    night = QuietHours(22, 7)
    assert night.holds(START.replace(hour=23)) and night.holds(START.replace(hour=3))
    assert not night.holds(START.replace(hour=12))
    assert night.ends_after(START.replace(hour=23)) == (START + timedelta(days=1)).replace(hour=7)


def test_the_webhook_id_is_stable_per_subscription_and_sequence():
    sid = uuid4()
    assert webhook_id(sid, 1) == webhook_id(sid, 1) != webhook_id(sid, 2)


@pytest.mark.parametrize("url", [
    "http://app.example/hooks", "https://10.0.0.5/hooks", "https://169.254.169.254/latest", "https://[::1]/x",
    "https://127.0.0.1/x", "ftp://app.example/x", "https://user:pw@app.example/x", "https://localhost/x"])
def test_addresses_refused_against_request_forgery(url):
    with pytest.raises(AddressRefused):
        AddressPolicy().check_url(url)


def test_loopback_http_only_in_development_and_private_only_when_configured():
    AddressPolicy().check_url("https://app.example/hooks")
    AddressPolicy(allow_loopback_http=True).check_url("http://127.0.0.1:8080/hooks")
    AddressPolicy(allow_private=True).check_url("https://10.0.0.5/hooks")
    with pytest.raises(AddressRefused):
        AddressPolicy(allow_loopback_http=True).check_url("http://10.0.0.5/hooks")


def test_an_app_is_sent_what_at_least_one_of_its_members_may_be_sent():
    app = Owner("sam", "supervisor", app="ward-board", members=("casey", "riley"))
    team = {"riley": "care_coordinator"}
    assert owner_refusal(app, "crisis", "care_team", (), team, (), START) is None
    assert owner_refusal(app, "crisis", "care_team", (), {}, (), START) == "not on the person's care team"
    # The owner themselves counts, not the supervisor who registered the app.
    assert owner_refusal(app, "crisis", "care_team", (), {"sam": "supervisor"}, (), START) is not None


def test_staff_are_sent_only_what_the_notices_audience_names_now():
    team = {"casey": "care_coordinator", "pat": "prescriber"}
    casey, pat = Owner("casey", "care_coordinator"), Owner("pat", "prescriber")
    assert owner_refusal(pat, "team_only", "prescribers", (), team, (), START) is None
    assert owner_refusal(casey, "team_only", "prescribers", (), team, (), START) == \
        "the notice is for the prescribers, not this member"
    assert owner_refusal(casey, "substance_use", "care_team", (), team, (), START) is None  # the treating team


def test_outside_the_team_consent_decides_and_substance_use_only_when_named():
    aunt = Owner("aunt-rosa", "support_person")
    shares = [ConsentDirective("d-1", "named_person", "aunt-rosa", ("crisis",), START - timedelta(days=1), None)]
    assert owner_refusal(aunt, "crisis", "care_team", (), {}, shares, START) is None
    assert "substance_use" in owner_refusal(aunt, "substance_use", "care_team", (), {}, shares, START)
    assert owner_refusal(aunt, "crisis", "care_team", (), {}, [shares[0].revoked(START)], START) is not None
