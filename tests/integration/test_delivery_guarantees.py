"""Nothing lost, nothing applied twice, each person's events in order, poison dead-lettered."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

from eventsourcing.persistence import Notification

from shared.messaging import REASON_HEADER
from shared.relay import OutboxRelay, Outgoing, RelayPositions, to_integration_event
from services.intake.translation import TRANSLATIONS
from shared.domain import Provenance
from shared.runtime import Service
from tests.integration.test_event_flow import _when_len, register, timeline_of
from tests.support.polling import eventually
from tests.support.system import System, envelope
from tests.support.tcp_proxy import TcpProxy

PROVENANCE = Provenance("test-agency", "agency_system", "corr-test")


async def test_the_same_integration_event_delivered_twice_is_applied_once(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    tap = await system.tap()
    async with system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c:
        person_id = await register(i)
        await eventually(lambda: _when_len(timeline_of(c, person_id), 1), what="registration applied")
        [original] = await system.collect(tap, 1, what="published registration")

        # Republished by intake's user, as its relay does after a crash.
        await system.publish_raw(original.body, original.routing_key, as_service="intake")
        await system.publish_raw(original.body, original.routing_key, as_service="intake")
        # A later event proves both redeliveries were consumed before it (single active consumer).
        await i.post(f"/people/{person_id}/screenings", json={"instrument": "GAD-7", "answers": {"item1": 0}})
        entries = await eventually(lambda: _when_len(timeline_of(c, person_id), 2), what="screening applied")
        assert [e["sequence"] for e in entries] == [1, 2]


async def test_a_relay_killed_after_publishing_but_before_saving_republishes_and_consumers_ignore_it(system: System):
    # Intake without its own relay: the test drives relays by hand to crash one at the worst moment.
    intake = await system.start_connected("intake", run_relay=False)
    intake_relay = system.idle_relays["intake"]
    careplan = await system.start_connected("careplan")
    tap = await system.tap()
    application = intake.application
    registration = await intake.run_sync(application.register_person, "north", "p-9", "Alex", None, PROVENANCE)
    await intake.run_sync(application.record_screening, registration.person_id, uuid.uuid4(), "PHQ-9", {"item1": 1}, PROVENANCE)

    class KilledBeforeSaving(RelayPositions):
        async def save(self, relay: str, position: int) -> None:
            raise SystemExit("relay process killed")

    killed = KilledBeforeSaving(system.isolation.database_url, "intake")
    doomed = OutboxRelay("intake", application, TRANSLATIONS, intake_relay.publisher, killed, intake.run_sync)
    positions = RelayPositions(system.isolation.database_url, "intake")
    await positions.open()
    try:
        await _publish_once(doomed, killed)
        # The restarted relay starts from the last saved position (none) and publishes both again.
        restarted = OutboxRelay("intake", application, TRANSLATIONS, intake_relay.publisher, positions, intake.run_sync)
        restarted.position = await positions.load(restarted.name)
        assert restarted.position == 0
        assert await restarted.publish_next_batch() == 2  # registered, screening completed
        assert await positions.load(restarted.name) == 2
    finally:
        await positions.close()

    published = await system.collect(tap, 4, what="four publishes")
    ids = [envelope(m)["event_id"] for m in published]
    assert len(ids) == 4 and len(set(ids)) == 2, "each event was published twice, with the same id"
    async with system.client(careplan, "auditor") as c:
        entries = await eventually(lambda: _when_len(timeline_of(c, str(registration.person_id)), 2), what="applied")
    # Both copies of each were consumed (single active consumer, in order); one effect each.
    assert [e["sequence"] for e in entries] == [1, 2]


def as_intake_publishes(intake: Service, notifications: Sequence[Notification]) -> list[Outgoing]:
    """What intake's relay publishes for these notifications of its log."""
    return [to_integration_event("intake", n.id, event, TRANSLATIONS[type(event)](event))
            for n in notifications for event in [intake.application.mapper.to_domain_event(n)]]


async def _publish_once(relay: OutboxRelay, its_positions: RelayPositions) -> None:
    await its_positions.open()
    try:
        await relay.publish_next_batch()
    except SystemExit:
        pass
    else:
        raise AssertionError("the relay should have died before saving its position")
    finally:
        await its_positions.close()


async def test_commands_succeed_while_rabbitmq_is_unreachable_and_are_published_when_it_is_back(system: System):
    host, port = "127.0.0.1", 5672
    proxy = TcpProxy(host, port)
    await proxy.start()
    try:
        amqp_through_proxy = (await system.service_amqp_url("intake")).replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
        intake = await system.start_connected("intake", amqp_url=amqp_through_proxy)
        careplan = await system.start_connected("careplan")
        async with system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c:
            proxy.cut()
            person_id = await register(i, "during-outage")
            for n in range(5):
                response = await i.post(f"/people/{person_id}/screenings",
                                        json={"instrument": "PHQ-9", "answers": {"item1": n % 4}})
                assert response.status_code == 201, response.text
            async def not_ready():
                ready = await i.get("/readyz")
                return ready.status_code == 503 and ready.json()["checks"] == {"database": True, "broker": False}

            await eventually(not_ready, what="intake to report the broker unreachable")

            proxy.restore()
            entries = await eventually(lambda: _when_len(timeline_of(c, person_id), 6), timeout=60,
                                       what="events published after the broker came back")
            assert [e["sequence"] for e in entries] == list(range(1, 7))  # registration + 5 screenings
    finally:
        await proxy.close()


async def test_a_poison_message_is_dead_lettered_with_its_reason_and_the_next_good_one_is_processed(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    tap = await system.tap()
    async with system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c:
        person_id = await register(i)
        [good] = await system.collect(tap, 1, what="registration published")
        await eventually(lambda: _when_len(timeline_of(c, person_id), 1), what="registration applied")

        # Broken messages from intake's own user (a defect at the source, not a forgery).
        await system.publish_raw(b"{not json", "intake.screening_recorded", as_service="intake")
        await system.publish_raw(json.dumps({"type": "carecoord.intake.screening_recorded"}).encode(),
                                 "intake.screening_recorded", as_service="intake")
        # A well-formed envelope of intake's whose payload breaks its contract, for another person:
        # it is dead-lettered, and that person's sequence moves past it so their later events still
        # flow (only because its publisher is intake: see test_forged_messages.py).
        other_person = str(uuid.uuid4())
        def for_other_person(sequence: int, **changes):
            return json.dumps(envelope(good) | {
                "event_id": str(uuid.uuid4()), "person_id": other_person, "person_sequence": sequence,
                "position": 100 + sequence, **changes,
            }).encode()
        await system.publish_raw(
            for_other_person(1, type="carecoord.intake.screening_recorded", payload={"instrument": "PHQ-9"}),
            "intake.screening_recorded", as_service="intake",
        )
        await system.publish_raw(for_other_person(2), "intake.person_registered", as_service="intake")

        response = await i.post(f"/people/{person_id}/screenings", json={"instrument": "GAD-7", "answers": {"item1": 3}})
        assert response.status_code == 201
        dead = await system.collect("careplan", 3, what="three dead letters")
        reasons = [m.headers[REASON_HEADER] for m in dead]
        assert dead[0].body == b"{not json"
        assert "Input should be a valid dictionary" in reasons[0]
        assert "event.person_id: Field required" in reasons[1]
        assert "payload invalid: screening_id: Field required; answers: Field required" in reasons[2]

        entries = await eventually(lambda: _when_len(timeline_of(c, person_id), 2), what="the next good events")
        assert [e["kind"] for e in entries] == ["person_registered", "screening_scored"]
        others = await eventually(lambda: _when_len(timeline_of(c, other_person), 1), what="the other person's next")
        assert [(e["sequence"], e["kind"]) for e in others] == [(2, "person_registered")]


async def test_a_persons_events_delivered_out_of_order_are_applied_in_order(system: System):
    intake = await system.start_connected("intake", run_relay=False)  # the test publishes intake's events
    intake_relay = system.idle_relays["intake"]
    careplan = await system.start_connected("careplan")
    application = intake.application
    registration = await intake.run_sync(application.register_person, "north", "p-7", "Kai", None, PROVENANCE)
    for n in range(3):
        await intake.run_sync(application.record_screening, registration.person_id, uuid.uuid4(), "PHQ-9",
                              {"item1": n}, PROVENANCE)
    notifications = await intake.run_sync(application.recorder.select_notifications, None, 10)
    batch = as_intake_publishes(intake, notifications)

    # Newest first: each arrives before the one it follows and must wait for it.
    await intake_relay.publisher.publish_in_order(list(reversed(batch)))

    async with system.client(careplan, "auditor") as c:
        entries = await eventually(lambda: _when_len(timeline_of(c, str(registration.person_id)), 4),
                                   what="all four applied")
    assert [e["sequence"] for e in entries] == list(range(1, 5))
    assert [e["kind"] for e in entries] == ["person_registered"] + ["screening_scored"] * 3


async def test_two_replicas_of_a_service_publish_each_event_once_and_a_standby_takes_over(system: System):
    leader = await system.start_connected("intake")
    standby = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    tap = await system.tap("intake.#")
    first = await leader.run_sync(leader.application.register_person, "north", "rep-1", "Ira", None, PROVENANCE)
    async with system.client(careplan, "auditor") as c:
        await eventually(lambda: _when_len(timeline_of(c, str(first.person_id)), 1), what="first event applied")

        await system.stop(leader)  # its lease is released; the standby's relay takes over
        second = await standby.run_sync(standby.application.register_person, "north", "rep-2", "Jo", None, PROVENANCE)
        await eventually(lambda: _when_len(timeline_of(c, str(second.person_id)), 1), timeout=30,
                         what="the standby to publish")
    # The two expected, then anything more that arrived: a duplicate would fail the assertion.
    messages = await system.collect(tap, 2, what="both publishes") + await system.drain(tap)
    published = [envelope(m)["event_id"] for m in messages]
    assert len(published) == len(set(published)) == 2, "each event published once, by one relay at a time"


async def test_a_burst_of_one_persons_events_in_order_is_applied_without_a_single_retry(system: System, caplog):
    # Deliveries run as concurrent tasks; they keep the broker's order only if nothing suspends a
    # task before it takes the person's lock. A retry here is an event overtaken by its successor.
    intake = await system.start_connected("intake", run_relay=False)
    intake_relay = system.idle_relays["intake"]
    careplan = await system.start_connected("careplan")
    application = intake.application
    registration = await intake.run_sync(application.register_person, "north", "p-burst", "Ash", None, PROVENANCE)
    for n in range(79):
        await intake.run_sync(application.record_screening, registration.person_id, uuid.uuid4(), "GAD-7",
                              {"item1": n % 4}, PROVENANCE)
    notifications = await intake.run_sync(application.recorder.select_notifications, None, 100)
    caplog.set_level("WARNING", logger="shared.messaging")

    await intake_relay.publisher.publish_in_order(as_intake_publishes(intake, notifications))

    async with system.client(careplan, "auditor") as c:
        entries = await eventually(lambda: _when_len(timeline_of(c, str(registration.person_id)), 80),
                                   what="all eighty applied")
    assert [e["sequence"] for e in entries] == list(range(1, 81))
    assert [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()] == []
