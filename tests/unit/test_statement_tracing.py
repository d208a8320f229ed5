"""The database drivers' instrumentations: a statement in an unsampled trace goes straight to the
driver (no span started, the sampler not asked), a statement in a sampled trace or outside any
trace is traced by the maintained instrumentation as before."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry import context, trace
from opentelemetry.instrumentation import psycopg as psycopg_instrumentation
from opentelemetry.instrumentation._semconv import _StabilityMode
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from shared.statement_tracing import SamplingAwareAsyncPGInstrumentor, _SamplingAwareCursorTracer
from shared.tracing import untraced
from tests.support.sampling import recording_provider


@pytest.fixture
def traced() -> SimpleNamespace:
    provider, sampler, exporter = recording_provider()
    return SimpleNamespace(sampler=sampler, exporter=exporter, provider=provider)


@contextmanager
def within(sampled: bool | None) -> Iterator[None]:
    """In a remote parent's trace (sampled or not), or outside any trace (None)."""
    if sampled is None:
        yield
        return
    parent = NonRecordingSpan(SpanContext(trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0xB7AD6B7169203331,
                                          is_remote=True, trace_flags=TraceFlags(int(sampled))))
    token = context.attach(trace.set_span_in_context(parent))
    try:
        yield
    finally:
        context.detach(token)


def asyncpg_instrumentor(provider: TracerProvider) -> SamplingAwareAsyncPGInstrumentor:
    # Its wrappers alone, without patching asyncpg for the whole test process.
    instrumentor = object.__new__(SamplingAwareAsyncPGInstrumentor)
    instrumentor.capture_parameters = False
    instrumentor.skips_unsampled = True
    instrumentor._semconv_opt_in_mode = _StabilityMode.DEFAULT
    instrumentor._tracer = provider.get_tracer("test")
    return instrumentor


@pytest.mark.parametrize("method", ["_do_execute", "_do_prepared_execute"])
async def test_an_asyncpg_statement_in_an_unsampled_trace_starts_no_span(traced, method):
    instrumentor = asyncpg_instrumentor(traced.provider)
    called = []

    async def statement(*args: Any) -> str:
        called.append(args)
        return "result"

    connection = SimpleNamespace(_params=None, _addr=("127.0.0.1", 5432), _query="SELECT 1")
    with within(sampled=False):
        assert await getattr(instrumentor, method)(statement, connection, ("SELECT 1",), {}) == "result"
    assert called and traced.sampler.asked == 0 and not traced.exporter.get_finished_spans()


@pytest.mark.parametrize("sampled", [True, None], ids=["sampled trace", "no trace"])
async def test_an_asyncpg_statement_in_a_sampled_trace_or_none_is_traced_as_before(traced, sampled):
    instrumentor = asyncpg_instrumentor(traced.provider)

    async def statement(*args: Any) -> str:
        return "result"

    connection = SimpleNamespace(_params=None, _addr=("127.0.0.1", 5432))
    with within(sampled):
        for _ in range(20):
            assert await instrumentor._do_execute(statement, connection, ("SELECT 1",), {}) == "result"
    assert traced.sampler.asked == 20  # every statement was offered to the sampler
    if sampled:
        assert [span.name for span in traced.exporter.get_finished_spans()] == ["SELECT"] * 20


def test_the_asyncpg_wrappers_override_the_instrumentations_own():
    for method in ("_do_execute", "_do_cursor_execute", "_do_prepared_execute"):
        assert getattr(AsyncPGInstrumentor, method) is not getattr(SamplingAwareAsyncPGInstrumentor, method)


def cursor_tracer(provider: TracerProvider) -> _SamplingAwareCursorTracer:
    db_api = psycopg_instrumentation.DatabaseApiIntegration(
        "test", "postgresql", connection_attributes={}, tracer_provider=provider)
    return _SamplingAwareCursorTracer(db_api)


def test_a_psycopg_statement_in_an_unsampled_trace_starts_no_span(traced):
    tracer = cursor_tracer(traced.provider)
    with within(sampled=False):
        assert tracer.traced_execution(SimpleNamespace(), lambda *args: "result", "SELECT 1") == "result"
    assert traced.sampler.asked == 0 and not traced.exporter.get_finished_spans()


@pytest.mark.parametrize("sampled", [True, None], ids=["sampled trace", "no trace"])
def test_a_psycopg_statement_in_a_sampled_trace_or_none_is_traced_as_before(traced, sampled):
    tracer = cursor_tracer(traced.provider)
    with within(sampled):
        for _ in range(20):
            assert tracer.traced_execution(SimpleNamespace(), lambda *args: "result", "SELECT 1") == "result"
    assert traced.sampler.asked == 20
    if sampled:
        assert [span.name for span in traced.exporter.get_finished_spans()] == ["SELECT"] * 20


def test_psycopgs_cursor_factories_build_the_module_level_cursor_tracer():
    # SamplingAwarePsycopgInstrumentor points that name at its subclass: it must be looked up there.
    for factory in (psycopg_instrumentation._new_cursor_factory, psycopg_instrumentation._new_cursor_async_factory):
        assert "CursorTracer" in factory.__code__.co_names


async def test_a_pollers_statement_is_not_traced_even_outside_any_trace(traced):
    """The log readers' and relay positions' statements run `untraced()`: outside any trace they
    would each be offered to the sampler as a root of their own."""
    instrumentor = asyncpg_instrumentor(traced.provider)
    called = []

    async def statement(*args: Any) -> str:
        called.append(args)
        return "result"

    connection = SimpleNamespace(_params=None, _addr=("127.0.0.1", 5432))
    with untraced():
        assert await instrumentor._do_execute(statement, connection, ("SELECT 1",), {}) == "result"
    assert called and traced.sampler.asked == 0 and not traced.exporter.get_finished_spans()
    assert await instrumentor._do_execute(statement, connection, ("SELECT 1",), {}) == "result"
    assert traced.sampler.asked == 1  # outside the block, traced as before
