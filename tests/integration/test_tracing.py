"""One trace follows a screening: intake's HTTP call, the relay's publish (later, from the event
log), the broker, and careplan's processing of it, which careplan's follower event records; and
one follows what careplan publishes on to notifications. The services run in this test's process
and share its tracer provider, which records spans in memory."""

from __future__ import annotations

import json
import logging
import secrets
from uuid import UUID

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.careplan.domain.timeline import Timeline
from shared.telemetry import JsonFormatter
from shared.tracing import tracer_provider
from tests.integration.test_event_flow import register, timeline_of
from tests.integration.test_picture import picture_when
from tests.integration.webhook_support import screen
from tests.support.polling import eventually
from tests.support.system import System, bearer
from tests.support.teams import join_team


class _Recording(SpanProcessor):
    """Hands finished spans to the current test's exporter; drops them between tests (the
    process's tracer provider can be installed only once, and outlives this test)."""

    exporter: InMemorySpanExporter | None = None

    def on_end(self, span: ReadableSpan) -> None:
        if self.exporter is not None:
            self.exporter.export([span])


_recording = _Recording()


@pytest.fixture
def spans():
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = tracer_provider()  # as the services build theirs (every root sampled here)
        provider.add_span_processor(_recording)
        trace.set_tracer_provider(provider)
    _recording.exporter = InMemorySpanExporter()
    yield _recording.exporter
    _recording.exporter = None


async def test_one_trace_follows_a_screening_from_intake_through_the_relay_to_careplan(
        system: System, spans: InMemorySpanExporter):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")

    async with system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c:
        person_id = await register(i)
        await screen(system, intake, person_id)
        await eventually(lambda: _at_least(timeline_of(c, person_id), 3), what="careplan applied the screening")

    async def screening_trace():
        finished = spans.get_finished_spans()
        http = [s for s in finished if s.kind is SpanKind.SERVER and s.name == "POST /people/{person_id}/screenings"]
        if not http:
            return None
        trace_id = http[0].context.trace_id
        same = [s for s in finished if s.context.trace_id == trace_id]
        published = [s for s in same if s.kind is SpanKind.PRODUCER]
        # Careplan is the only service here that consumes intake's screenings.
        consumed = [s for s in same if s.kind is SpanKind.CONSUMER
                    and s.attributes.get("messaging.rabbitmq.destination.routing_key") == "intake.screening_completed"]
        return (http[0], published, consumed) if published and consumed else None

    http, published, consumed = await eventually(screening_trace, what="one trace from intake to careplan")
    # The relay published later and elsewhere, continuing the trace stored with the event.
    assert "carecoord.events.intake.screening_completed publish" in [s.name for s in published]
    assert all(s.parent is not None for s in published + consumed)
    # The route template names the span, never the person's id.
    assert person_id not in http.name
    # The database calls of the request are in the trace too (psycopg, under eventsourcing).
    assert any(s.context.trace_id == http.context.trace_id and s.kind is SpanKind.CLIENT
               for s in spans.get_finished_spans())


async def test_a_log_tailer_a_poller_serving_no_request_traces_none_of_its_statements(
        system: System, spans: InMemorySpanExporter):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")

    async with system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c:
        person_id = await register(i)
        await screen(system, intake, person_id)
        await picture_when(c, person_id, lambda p: len(p["screenings"]) == 1, "the screening in the picture")

    statements = [str(s.attributes.get("db.statement") or s.attributes.get("db.query.text"))
                  for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert any("picture" in statement for statement in statements)  # the picture's HTTP read: traced
    # The picture projection (careplan's log tailer) folded the screening in, and none of its
    # statements (its lock, position, reads and writes) is a trace of its own.
    assert [s for s in statements if "picture_position" in s or "pg_try_advisory_xact_lock" in s] == []


async def test_careplans_follower_events_keep_the_delivery_trace_and_its_publishes_reach_notifications_in_one(
        system: System, spans: InMemorySpanExporter):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    await system.start_connected("notifications")

    async with system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c:
        person_id = await register(i)
        await eventually(lambda: timeline_of(c, person_id), what="careplan applied the registration")
    # Intake consumes care-team events too: stopped, so that notifications is the only consumer left.
    await system.stop(intake)
    async with system.client(careplan) as c:
        await join_team(c, person_id, "casey", "care_coordinator", bearer("supervisor", "sam-supervisor"))

    def traces_of(name: str) -> list[int]:
        return [s.context.trace_id for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER and s.name == name]

    # The registration's delivery to careplan is recorded with its trace on the timeline's event.
    [registration_trace] = traces_of("POST /people")
    stored = await careplan.run_sync(careplan.application.repository.event_store.get,
                                     Timeline.create_id(UUID(person_id)))
    [noted] = [e for e in stored if getattr(e, "upstream", None) and e.upstream.event_type.endswith("person_registered")]
    assert noted.upstream.traceparent is not None
    assert int(noted.upstream.traceparent.split("-")[1], 16) == registration_trace

    # What careplan publishes (the member who joined) is consumed by notifications in the request's trace.
    async def member_joined_trace():
        found = traces_of("POST /people/{person_id}/team")
        if not found:
            return None
        same = [s for s in spans.get_finished_spans() if s.context.trace_id == found[-1]]
        published = [s.name for s in same if s.kind is SpanKind.PRODUCER]
        consumed = [s for s in same if s.kind is SpanKind.CONSUMER
                    and s.attributes.get("messaging.rabbitmq.destination.routing_key") == "careplan.care_team.member_joined"]
        return (published, consumed) if consumed else None

    published, consumed = await eventually(member_joined_trace, what="one trace from careplan to notifications")
    assert "carecoord.events.careplan.care_team.member_joined publish" in published
    assert all(s.parent is not None for s in consumed)


async def test_an_unsampled_trace_stays_unsampled_from_intake_through_the_relay_to_careplan(
        system: System, spans: InMemorySpanExporter):
    """A caller's trace that is not sampled (nine in ten under the compose file's sampler) is
    passed on, never recorded: careplan's event keeps its trace id, still marked not sampled."""
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    trace_id = f"{secrets.randbits(128):032x}"

    async with system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c:
        person_id = await register(i)
        await screen(system, intake, person_id,
                     headers={"traceparent": f"00-{trace_id}-{secrets.randbits(64):016x}-00"})
        await eventually(lambda: _at_least(timeline_of(c, person_id), 3), what="careplan applied the screening")

    stored = await careplan.run_sync(careplan.application.repository.event_store.get,
                                     Timeline.create_id(UUID(person_id)))
    [noted] = [e for e in stored if getattr(e, "upstream", None)
               and e.upstream.event_type.endswith("screening_completed")]
    # What careplan does later because of it continues the same trace, unsampled (flags 00).
    assert noted.upstream.traceparent is not None
    _, stored_trace_id, _, flags = noted.upstream.traceparent.split("-")
    assert (stored_trace_id, flags) == (trace_id, "00")
    # Nothing of it was recorded: not intake's request, the relay's publish nor careplan's delivery.
    assert [s.name for s in spans.get_finished_spans() if s.context.trace_id == int(trace_id, 16)] == []
    # The registration, traced by the same processes, was recorded (the sampler here takes every root).
    assert any(s.kind is SpanKind.CONSUMER for s in spans.get_finished_spans())


async def _at_least(awaitable, n):
    items = await awaitable
    return items if len(items) >= n else None


def test_json_logs_carry_the_trace_id_of_the_current_span(spans: InMemorySpanExporter):
    formatter = JsonFormatter("intake")
    with trace.get_tracer("test").start_as_current_span("work") as span:
        line = json.loads(formatter.format(logging.makeLogRecord({"msg": "applied", "levelname": "INFO"})))
    assert line["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert line["span_id"] == f"{span.get_span_context().span_id:016x}"
    assert line["message"] == "applied" and line["service"] == "intake"
