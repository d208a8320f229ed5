"""The broker's telemetry middleware: an unsampled trace is only passed on (no span started, not
even a non-recording one), a sampled one is traced by FastStream's code as before."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from faststream._internal.context.repository import ContextRepo
from faststream.message import StreamMessage
from faststream.rabbit import RabbitExchange
from faststream.rabbit.response import RabbitPublishCommand
from faststream.response.publish_type import PublishType
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.broker_tracing import SamplingAwareTelemetryMiddleware, drops_children_of_unsampled_parents
from shared.tracing import continuing, current_traceparent
from tests.support.sampling import recording_provider

TRACE = "0af7651916cd43dd8448eb211c80319c"
UNSAMPLED = f"00-{TRACE}-b7ad6b7169203331-00"
SAMPLED = f"00-{TRACE}-b7ad6b7169203331-01"


@pytest.fixture
def traced():
    provider, sampler, exporter = recording_provider()
    middleware = SamplingAwareTelemetryMiddleware(tracer_provider=provider)
    sampler.asked = 0  # the middleware asked it once about itself
    return SimpleNamespace(sampler=sampler, exporter=exporter, middleware=middleware,
                           tracer=provider.get_tracer("test"), context=ContextRepo())


def delivery(traceparent: str) -> StreamMessage[Any]:
    raw = SimpleNamespace(routing_key="intake.screening_completed", delivery_tag=1, exchange="carecoord.events")
    return StreamMessage(raw, b"{}", headers={"traceparent": traceparent}, message_id="m1")


def publish_command() -> RabbitPublishCommand:
    return RabbitPublishCommand(b"{}", _publish_type=PublishType.PUBLISH, routing_key="careplan.noted",
                                exchange=RabbitExchange("carecoord.events"), headers={})


async def consume_and_publish(traced: SimpleNamespace, traceparent: str) -> tuple[str | None, dict[str, Any]]:
    """Deliver a message carrying `traceparent`; its handler publishes one. What the handler saw as
    its trace, and the headers it published with."""
    seen: dict[str, Any] = {}

    async def sent(cmd: RabbitPublishCommand) -> None:
        seen["headers"] = dict(cmd.headers)

    async def handler(_msg: StreamMessage[Any]) -> None:
        seen["traceparent"] = current_traceparent()
        await traced.middleware(None, context=traced.context).publish_scope(sent, publish_command())

    msg = delivery(traceparent)
    async with traced.middleware(msg, context=traced.context) as scope:
        await scope.consume_scope(handler, msg)
    return seen["traceparent"], seen["headers"]


async def test_an_unsampled_delivery_is_processed_and_published_on_in_its_trace_without_starting_a_span(traced):
    handled_in, published = await consume_and_publish(traced, UNSAMPLED)

    assert handled_in == UNSAMPLED  # what the consumer records as its event's trace
    assert published["traceparent"] == UNSAMPLED  # the next consumer continues it, unsampled
    assert traced.sampler.asked == 0
    assert traced.exporter.get_finished_spans() == ()


async def test_an_unsampled_delivery_with_a_tracestate_passes_it_on(traced):
    seen: dict[str, Any] = {}

    async def sent(cmd: RabbitPublishCommand) -> None:
        seen.update(cmd.headers)

    async def handler(_msg: StreamMessage[Any]) -> None:
        await traced.middleware(None, context=traced.context).publish_scope(sent, publish_command())

    msg = delivery(UNSAMPLED)
    msg.headers["tracestate"] = "vendor=value"
    async with traced.middleware(msg, context=traced.context) as scope:
        await scope.consume_scope(handler, msg)
    assert seen["traceparent"] == UNSAMPLED and seen["tracestate"] == "vendor=value"
    assert traced.sampler.asked == 0


@pytest.mark.parametrize("traceparent", [f"00-{'0' * 32}-b7ad6b7169203331-00", "garbage", f"00-{TRACE.upper()}-b7ad6b7169203331-00"])
async def test_a_delivery_whose_traceparent_the_propagator_refuses_is_traced_by_faststream_as_a_new_trace(traced, traceparent):
    handled_in, _published = await consume_and_publish(traced, traceparent)

    assert handled_in is not None and TRACE not in handled_in.lower()
    assert traced.sampler.asked >= 1  # a root: the sampler decides


async def test_a_sampled_delivery_and_its_publishes_are_traced_by_faststream_as_before(traced):
    handled_in, published = await consume_and_publish(traced, SAMPLED)

    spans = {s.name: s for s in traced.exporter.get_finished_spans()}
    process = spans["carecoord.events.intake.screening_completed process"]
    create = spans["carecoord.events.careplan.noted create"]
    assert "carecoord.events.careplan.noted publish" in spans
    assert {s.context.trace_id for s in spans.values()} == {int(TRACE, 16)}
    assert process.parent is not None and process.parent.span_id == int("b7ad6b7169203331", 16)
    assert handled_in is not None and handled_in.split("-")[2] == f"{process.context.span_id:016x}"
    assert published["traceparent"].split("-")[2] == f"{create.context.span_id:016x}"


async def test_a_publish_in_an_unsampled_context_carries_that_context_on(traced):
    async def sent(cmd: RabbitPublishCommand) -> None:
        assert cmd.headers["traceparent"] == current_traceparent()

    with traced.tracer.start_as_current_span("request", context=_unsampled_parent()):
        unsampled = current_traceparent()
        await traced.middleware(None, context=traced.context).publish_scope(sent, publish_command())
    assert unsampled is not None and unsampled.endswith("-00")
    assert traced.sampler.asked == 1  # the request's span only
    assert traced.exporter.get_finished_spans() == ()


async def test_a_relayed_publish_carries_the_stored_unsampled_traceparent_on_as_the_propagator_writes_it(traced):
    # The relay publishes with the stored `traceparent` in its headers, within `continuing` it.
    published: dict[str, Any] = {}

    async def sent(cmd: RabbitPublishCommand) -> None:
        published.update(cmd.headers)

    command = publish_command()
    command.headers["traceparent"] = UNSAMPLED
    with continuing(UNSAMPLED):
        await traced.middleware(None, context=traced.context).publish_scope(sent, command)
    assert published["traceparent"] == UNSAMPLED
    assert "tracestate" not in published
    assert traced.sampler.asked == 0
    assert traced.exporter.get_finished_spans() == ()


@pytest.mark.parametrize("tracestate", [None, "vendor=value,other=1"])
async def test_the_short_path_writes_the_headers_the_propagator_would(traced, tracestate):
    carrier = {"traceparent": f"01-{TRACE}-b7ad6b7169203331-02"}  # flags and version not as stored
    if tracestate:
        carrier["tracestate"] = tracestate
    parent = TraceContextTextMapPropagator().extract(carrier)
    expected: dict[str, Any] = {}
    TraceContextTextMapPropagator().inject(expected, context=parent)
    published: dict[str, Any] = {}

    async def sent(cmd: RabbitPublishCommand) -> None:
        published.update(cmd.headers)

    token = otel_context.attach(parent)
    try:
        await traced.middleware(None, context=traced.context).publish_scope(sent, publish_command())
    finally:
        otel_context.detach(token)
    assert published == expected
    assert traced.exporter.get_finished_spans() == ()


def _unsampled_parent():
    return TraceContextTextMapPropagator().extract({"traceparent": UNSAMPLED})


@pytest.mark.parametrize("sampler, skips", [
    (ParentBased(TraceIdRatioBased(0.1)), True),  # the compose file's
    (ParentBased(ALWAYS_ON), True),  # the SDK's default
    (TraceIdRatioBased(0.1), False),  # decides by trace id alone: an unsampled parent may have sampled children
    (ALWAYS_ON, False),
    (ParentBased(ALWAYS_ON, remote_parent_not_sampled=ALWAYS_ON), False),
    (ParentBased(ALWAYS_ON, local_parent_not_sampled=ALWAYS_ON), False),
    (ALWAYS_OFF, True),
])
def test_unsampled_traces_are_skipped_only_under_a_sampler_that_drops_their_children(sampler, skips):
    assert drops_children_of_unsampled_parents(sampler) is skips


async def test_under_another_sampler_faststream_starts_its_spans_as_before():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    traced = SimpleNamespace(middleware=SamplingAwareTelemetryMiddleware(tracer_provider=provider),
                             context=ContextRepo())

    await consume_and_publish(traced, UNSAMPLED)

    names = sorted(s.name for s in exporter.get_finished_spans())
    assert names == ["carecoord.events.careplan.noted create", "carecoord.events.careplan.noted publish",
                     "carecoord.events.intake.screening_completed process"]

