"""Operators scrape GET /metrics on each service and see the figures move under traffic."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_event_flow import PHQ9_WITH_SUICIDE_RISK, register
from tests.integration.webhook_support import CASEY, person_with_team, screen
from tests.integration.webhook_support import start as start_for_webhooks
from tests.support.polling import eventually
from tests.support.receiver import receiving
from tests.support.serving import serving
from tests.support.sse import event_stream
from tests.support.system import System

SCREENINGS_ROUTE = "/people/{person_id}/screenings"


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset], float]:
    """Every sample of the service's /metrics by (name, labels), fetched without a token."""
    response = await client.get("/metrics", headers={"Authorization": ""})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def test_a_screening_moves_the_request_relay_and_consumer_figures(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")

    async with system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c:
        before_intake, before_careplan = await scrape(i), await scrape(c)
        person_id = await register(i)
        response = await i.post(f"/people/{person_id}/screenings",
                                json={"instrument": "PHQ-9", "answers": PHQ9_WITH_SUICIDE_RISK})
        assert response.status_code == 201, response.text

        async def relayed_and_applied():
            intake_now, careplan_now = await scrape(i), await scrape(c)
            published = value(intake_now, "carecoord_relay_published_position", relay="intake-relay")
            applied = value(careplan_now, "carecoord_consumer_applied_position", source="intake")
            caught_up = value(intake_now, "carecoord_relay_lag_events", relay="intake-relay") == 0
            return (intake_now, careplan_now) if published >= 3 and caught_up and applied >= 3 else None

        intake_after, careplan_after = await eventually(relayed_and_applied, what="relay and consumer figures")

    # The route's template is the label, never the path with the person's id in it.
    screenings = ("carecoord_http_request_duration_seconds_count",)
    assert value(intake_after, *screenings, route=SCREENINGS_ROUTE, method="POST", status="201") == \
        value(before_intake, *screenings, route=SCREENINGS_ROUTE, method="POST", status="201") + 1
    assert person_id not in "".join(str(labels) for _, labels in intake_after)

    assert value(intake_after, "carecoord_relay_published_events_total", relay="intake-relay") >= 3
    assert value(intake_after, "carecoord_event_log_head_position") >= 3
    assert value(intake_after, "carecoord_relay_batch_size_count", relay="intake-relay") >= 1
    assert value(intake_after, "carecoord_group_commit_batch_size_sum", committer="commands") >= 2

    assert value(careplan_after, "carecoord_consumer_lag_seconds_count", source="intake") >= \
        value(before_careplan, "carecoord_consumer_lag_seconds_count", source="intake") + 3
    assert value(careplan_after, "carecoord_group_commit_batch_size_sum", committer="consumer") >= 3
    assert value(careplan_after, "carecoord_broker_received_processed_messages_total",
                 status="acked") >= 3
    # Queue depths are read at scrape time: nothing waits, nothing is parked.
    assert ("carecoord_queue_messages", frozenset({("queue", "careplan.inbox"), ("kind", "inbox")})) in careplan_after
    assert value(careplan_after, "carecoord_dead_letter_messages", queue="careplan.dead-letter") == 0
    assert value(careplan_after, "carecoord_metrics_refresh_failures_total") == 0


async def test_metrics_need_no_token_and_are_not_in_the_openapi_document(system: System):
    intake = await system.start_connected("intake")
    async with system.client(intake) as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 200
        assert "/metrics" not in (await anonymous.get("/openapi.json")).json()["paths"]
        # The scrape itself is not timed as a request.
        samples = await scrape(anonymous)
        assert value(samples, "carecoord_http_request_duration_seconds_count", route="/metrics") == 0


async def test_the_live_stream_stays_out_of_the_request_latency_figures(system: System):
    notifications = await system.start_connected("notifications", stream_heartbeat_seconds=0.2)
    async with serving(notifications) as address, event_stream(address, "clinician", "casey") as stream:
        assert stream.response.status_code == 200
        await eventually(lambda: _heartbeat(stream), what="a heartbeat on the open stream")
    async with system.client(notifications, "auditor") as n:
        assert (await n.get("/people/00000000-0000-4000-8000-000000000000/notifications")).status_code == 404

        async def timed_requests():
            samples = await scrape(n)
            return samples if value(samples, "carecoord_http_request_duration_seconds_count",
                                    route="/people/{person_id}/notifications") == 1 else None

        samples = await eventually(timed_requests, what="the notifications request timed")
    assert value(samples, "carecoord_http_request_duration_seconds_count", route="/stream") == 0


async def _heartbeat(stream):
    return stream.heartbeats


async def test_webhook_attempts_failures_parking_and_time_to_deliver_a_crisis(system: System):
    intake, careplan, notifications = await start_for_webhooks(system)
    person_id = await person_with_team(system, intake, careplan, notifications, "metrics-hook")
    answers = iter([(500, {}, 0.0)])
    async with receiving() as receiver, system.client(notifications) as n:
        receiver.answer = lambda _: next(answers, (204, {}, 0.0))
        made = await n.post("/subscriptions", headers=CASEY, json={"url": receiver.url, "kinds": ["crisis"]})
        assert made.status_code == 201, made.text
        await screen(system, intake, person_id)
        await receiver.wait_for(2, "a failure, then the crisis delivered")

        async def delivered():
            samples = await scrape(n)
            return samples if value(samples, "carecoord_webhook_attempts_total", outcome="delivered") == 1 else None

        samples = await eventually(delivered, what="the delivery counted")
        assert value(samples, "carecoord_webhook_attempts_total", urgency="urgent", outcome="failed") == 1
        assert value(samples, "carecoord_urgent_notice_to_delivery_seconds_count", kind="crisis") == 1
        assert value(samples, "carecoord_webhook_parked_deliveries_total") == 0

        receiver.answer = lambda _: (500, {}, 0.0)  # from now on every attempt fails: parked at the end
        await screen(system, intake, person_id)

        async def parked():
            samples = await scrape(n)
            return samples if value(samples, "carecoord_webhook_parked_deliveries_total", urgency="urgent") == 1 else None

        samples = await eventually(parked, what="the parked delivery counted")
        assert value(samples, "carecoord_webhook_attempts_total", urgency="urgent", outcome="failed") == 1 + 4
        assert value(samples, "carecoord_urgent_notice_to_delivery_seconds_count", kind="crisis") == 1
