"""FastAPI's server spans asked ahead: the sampler decides once per request, before FastAPI's
telemetry does any work; a sampled request is traced by FastAPI as before, an unsampled one runs
in its (unsampled) trace without FastAPI's span work, and what it passes on names that trace."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.request_sampling import RequestSampling, UnsampledRequestContext
from shared.tracing import current_traceparent, tracer_provider
from tests.support.sampling import CountingSampler

TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"


def traced_app(ratio: float) -> SimpleNamespace:
    sampler = CountingSampler(ratio)
    provider = tracer_provider(sampler=sampler, shutdown_on_exit=False)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = FastAPI(telemetry=TelemetryConfig(tracer_provider=provider, tracing=True, metrics=False, logs=False,
                                            operation_spans=False, auto_configure=False,
                                            exclude=RequestSampling({"/metrics"}, provider)))
    app.add_middleware(UnsampledRequestContext)

    @app.get("/people/{person_id}")
    async def person(person_id: str) -> dict[str, str | None]:
        return {"traceparent": current_traceparent()}  # what the request's events would store

    @app.get("/metrics")
    async def metrics() -> dict[str, str | None]:
        return {"traceparent": current_traceparent()}

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")
    return SimpleNamespace(client=client, sampler=sampler, exporter=exporter)


@pytest.fixture
async def sampled_one_in_two():
    traced = traced_app(0.5)
    async with traced.client:
        yield traced


async def traceparent_seen(traced: SimpleNamespace, path: str = "/people/p1", **headers: str) -> str | None:
    response = await traced.client.get(path, headers=headers)
    assert response.status_code == 200
    return response.json()["traceparent"]


async def test_an_unsampled_callers_request_continues_its_trace_unsampled_and_records_nothing(sampled_one_in_two):
    seen = await traceparent_seen(sampled_one_in_two, traceparent=f"00-{TRACE}-{CALLER_SPAN}-00")

    version, trace_id, span_id, flags = seen.split("-")
    assert (version, trace_id, flags) == ("00", TRACE, "00")
    assert span_id != CALLER_SPAN  # the request's own (non-recording) span
    assert sampled_one_in_two.exporter.get_finished_spans() == ()
    assert sampled_one_in_two.sampler.asked == 1


async def test_a_sampled_callers_request_is_traced_by_fastapi_as_before(sampled_one_in_two):
    seen = await traceparent_seen(sampled_one_in_two, traceparent=f"00-{TRACE}-{CALLER_SPAN}-01")

    [span] = sampled_one_in_two.exporter.get_finished_spans()
    assert span.instrumentation_scope.name == "fastapi"
    assert (span.name, span.kind, span.attributes["http.route"]) == ("GET /people/{person_id}", SpanKind.SERVER,
                                                                     "/people/{person_id}")
    assert span.parent.span_id == int(CALLER_SPAN, 16)
    assert seen == f"00-{TRACE}-{span.context.span_id:016x}-01"
    assert sampled_one_in_two.sampler.asked == 1


async def test_the_sampler_decides_each_new_trace_once_and_fastapi_keeps_its_decision(sampled_one_in_two):
    seen = [await traceparent_seen(sampled_one_in_two) for _ in range(40)]

    sampled = [t for t in seen if int(t.split("-")[3], 16) & 1]
    exported = sampled_one_in_two.exporter.get_finished_spans()
    # Asked once per request: a second, independent draw for FastAPI's span would sample a root
    # one time in four here, and ask 40 + (the first draw's samples) times.
    assert sampled_one_in_two.sampler.asked == 40
    assert 0 < len(sampled) < 40  # both kinds occurred (each has odds of 2^-40 of not occurring)
    assert sorted(f"00-{s.context.trace_id:032x}-{s.context.span_id:016x}-{int(s.context.trace_flags):02x}"
                  for s in exported) == sorted(sampled)
    assert len({t.split("-")[1] for t in seen}) == 40  # each request a trace of its own


async def test_scrapes_are_neither_traced_nor_sampled(sampled_one_in_two):
    seen = await traceparent_seen(sampled_one_in_two, "/metrics", traceparent=f"00-{TRACE}-{CALLER_SPAN}-01")

    assert seen is None
    assert sampled_one_in_two.sampler.asked == 0
    assert sampled_one_in_two.exporter.get_finished_spans() == ()
