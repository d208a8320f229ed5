"""One trace follows a screening: intake's HTTP call, the relay's publish (later, from the event
log), the broker, and careplan's processing of it. The services run in this test's process and
share its tracer provider, which records spans in memory."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.telemetry import JsonFormatter
from tests.integration.test_event_flow import PHQ9_WITH_SUICIDE_RISK, register, timeline_of
from tests.support.polling import eventually
from tests.support.system import System


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
        provider = TracerProvider()
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
        response = await i.post(f"/people/{person_id}/screenings",
                                json={"instrument": "PHQ-9", "answers": PHQ9_WITH_SUICIDE_RISK})
        assert response.status_code == 201, response.text
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
