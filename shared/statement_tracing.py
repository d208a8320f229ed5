"""The database drivers' OpenTelemetry instrumentations, without their per-statement work on
traces that are not sampled.

psycopg's and asyncpg's instrumentations (0.66b1) start a span for every statement, whatever the
trace: they name it, build its attributes, ask the tracer, enter and leave it as the current
span, and psycopg's records its duration histogram. Within a trace that is not sampled the span
is non-recording and a parent-based sampler drops it anyway, so that work changes nothing that
is recorded (bench/tracing_cost.py measures it per statement; bench/README.md). Neither
instrumentation has an option for this, so the wrappers here skip straight to the driver when
the current span is valid and not sampled, and otherwise hand the statement to the
instrumentation unchanged: statements of sampled traces keep their spans, and statements outside
any trace (a poller's) are still offered to the sampler as roots of their own.

As in shared/broker_tracing.py, the short path is only taken when the tracer provider's sampler
drops every child of an unsampled parent (every `parentbased_*` sampler does).
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation import psycopg as psycopg_instrumentation
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

from shared.broker_tracing import drops_children_of_unsampled_parents


def in_unsampled_trace() -> bool:
    """Whether the current span belongs to a trace that is not sampled."""
    span_context = trace.get_current_span().get_span_context()
    return span_context.is_valid and not span_context.trace_flags.sampled


class SamplingAwareAsyncPGInstrumentor(AsyncPGInstrumentor):
    """asyncpg's instrumentation, passing statements of unsampled traces straight to the driver."""

    _instance = None  # BaseInstrumentor's singleton: this class's own, not asyncpg's
    skips_unsampled = False

    def _instrument(self, **kwargs: Any) -> None:
        provider = kwargs.get("tracer_provider") or trace.get_tracer_provider()
        self.skips_unsampled = drops_children_of_unsampled_parents(getattr(provider, "sampler", None))
        super()._instrument(**kwargs)

    async def _do_execute(self, func: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if self.skips_unsampled and in_unsampled_trace():
            return await func(*args, **kwargs)
        return await super()._do_execute(func, instance, args, kwargs)

    async def _do_cursor_execute(self, func: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if self.skips_unsampled and in_unsampled_trace():
            return await func(*args, **kwargs)
        return await super()._do_cursor_execute(func, instance, args, kwargs)

    async def _do_prepared_execute(self, func: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if self.skips_unsampled and in_unsampled_trace():
            return await func(*args, **kwargs)
        return await super()._do_prepared_execute(func, instance, args, kwargs)


_MAINTAINED_CURSOR_TRACER = psycopg_instrumentation.CursorTracer


class _SamplingAwareCursorTracer(_MAINTAINED_CURSOR_TRACER):
    def traced_execution(self, cursor: Any, query_method: Any, *args: Any, **kwargs: Any) -> Any:
        if in_unsampled_trace():
            return query_method(*args, **kwargs)
        return super().traced_execution(cursor, query_method, *args, **kwargs)

    async def traced_execution_async(self, cursor: Any, query_method: Any, *args: Any, **kwargs: Any) -> Any:
        if in_unsampled_trace():
            return await query_method(*args, **kwargs)
        return await super().traced_execution_async(cursor, query_method, *args, **kwargs)


class SamplingAwarePsycopgInstrumentor(PsycopgInstrumentor):
    """psycopg's instrumentation, passing statements of unsampled traces straight to the driver.

    Its cursor classes are made per connection by the instrumentation's module-level factories,
    which build the module's `CursorTracer`: that name is pointed at a subclass with the short
    path while instrumented (tests/unit/test_statement_tracing.py fails if it moves)."""

    _instance = None  # BaseInstrumentor's singleton: this class's own, not psycopg's

    def _instrument(self, **kwargs: Any) -> None:
        provider = kwargs.get("tracer_provider") or trace.get_tracer_provider()
        if drops_children_of_unsampled_parents(getattr(provider, "sampler", None)):
            setattr(psycopg_instrumentation, "CursorTracer", _SamplingAwareCursorTracer)
        super()._instrument(**kwargs)

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        setattr(psycopg_instrumentation, "CursorTracer", _MAINTAINED_CURSOR_TRACER)
