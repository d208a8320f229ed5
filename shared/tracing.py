"""Traces: OpenTelemetry from the maintained instrumentations (FastAPI, FastStream, psycopg,
asyncpg), exported over OTLP only when the standard OTEL_* variables say where to.

Without them nothing is instrumented at all (no exporter, no spans, no cost per request). A
process that installed an OpenTelemetry SDK tracer provider itself (a test with an in-memory
exporter) is traced with it. One screening is one trace: intake's HTTP span, the relay's
publish (which continues the trace stored with the event, since it publishes later and
elsewhere), the broker, and each consumer's processing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import context, trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.request_sampling import DecidedAhead

log = logging.getLogger(__name__)
T = TypeVar("T")
_lock = threading.Lock()
_databases_instrumented = False
_propagator = TraceContextTextMapPropagator()
# The form every stored `traceparent` has (current_traceparent() writes it, usable_traceparent()
# admits only it): version 00, lower-case hex, nothing after the flags.
_STORED_FORM = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def exporting_configured(environ: os._Environ[str] | dict[str, str] = os.environ) -> bool:
    """Whether the standard OTEL_* variables ask for traces to be exported over OTLP."""
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").lower() in {"none", ""}:
        return False
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure_tracing(service_name: str) -> bool:
    """Install the process's tracer provider once, exporting over OTLP/HTTP as the OTEL_* variables
    say (endpoint, headers, service name, sampler); True if the process is traced."""
    with _lock:
        if not tracing_enabled() and exporting_configured():
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import SERVICE_NAME, Resource
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES over this default.
            provider = tracer_provider(resource=Resource.create({SERVICE_NAME: service_name}))
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            trace.set_tracer_provider(provider)
            log.info("exporting traces over OTLP")
        enabled = tracing_enabled()
        if enabled:
            _instrument_databases()
        return enabled


def tracer_provider(**options: Any) -> TracerProvider:
    """The SDK's tracer provider with the sampler the OTEL_TRACES_SAMPLER variables name, which
    FastAPI's server spans ask ahead of their work (shared/request_sampling.py)."""
    provider = TracerProvider(**options)
    # Before any tracer is handed out: each tracer keeps the sampler it was given.
    provider.sampler = DecidedAhead(provider.sampler)
    return provider


def tracing_enabled() -> bool:
    """True once an SDK tracer provider is installed (by configure_tracing or by a test)."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def _instrument_databases() -> None:
    # Process-wide patches of the drivers, applied once: psycopg (the event store, through
    # eventsourcing) and asyncpg (read models, relay positions, log reading).
    global _databases_instrumented
    if _databases_instrumented:
        return
    # The maintained instrumentations, minus their per-statement work in unsampled traces.
    from shared.statement_tracing import SamplingAwareAsyncPGInstrumentor, SamplingAwarePsycopgInstrumentor

    SamplingAwareAsyncPGInstrumentor().instrument()
    # Statements only, never their parameters (which may be clinical content).
    SamplingAwarePsycopgInstrumentor().instrument(enable_commenter=False)
    _databases_instrumented = True


@contextmanager
def continuing(traceparent: str | None) -> Iterator[None]:
    """Within this block, spans continue the trace `traceparent` names (stored with an event and
    published later by the relay); without one, the current context stands."""
    if not traceparent:
        yield
        return
    token = context.attach(stored_trace_context(traceparent))
    try:
        yield
    finally:
        context.detach(token)


def stored_trace_context(traceparent: str) -> context.Context:
    """Exactly the context the W3C propagator extracts from `{"traceparent": traceparent}`.

    The relay does this once per published event (`continuing`); the propagator's general parse
    (its regex, the carrier getter, the absent `tracestate` looked up) cost about twice this
    direct build of the stored form (bench/README.md, 2026-12-07 08:32 section). Any other form,
    and ids of zeros, still go to the propagator, so every answer is the propagator's."""
    match = _STORED_FORM.fullmatch(traceparent)
    if match is None:
        return _propagator.extract({"traceparent": traceparent})
    trace_id, span_id, flags = match.groups()
    span_context = SpanContext(trace_id=int(trace_id, 16), span_id=int(span_id, 16), is_remote=True,
                               trace_flags=TraceFlags(int(flags, 16)))
    if not span_context.is_valid:  # an id of zeros: refused, as the propagator refuses it
        return _propagator.extract({"traceparent": traceparent})
    return trace.set_span_in_context(NonRecordingSpan(span_context), context.Context())


@contextmanager
def untraced() -> Iterator[None]:
    """Within this block the drivers' instrumentations record nothing. For the statements of
    pollers (reading the log, saving a relay's position): they belong to no flow, so each would be
    a trace of its own, one statement long, that nobody can place (1 in 10 of them exported at
    the compose file's sampler), and ~30 us of the instrumentation's work each (bench/README.md,
    `tracing_cost.py`). The flows they serve are traced where they publish and apply."""
    with suppress_instrumentation():
        yield


def untraced_task(coroutine: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
    """A task that runs `coroutine` untraced throughout (its context is copied at creation, and so
    is every task it creates and every call it hands to the pool, shared/runtime.py run_sync).
    For the service's log tailers (a projection, the webhook matcher and dispatcher, the
    follow-up timer, the live stream's log watcher): pollers whose statements belong to no
    request or delivery, so
    each was a root of its own, offered to the sampler through the instrumentation's whole path
    (~30 µs) and one in ten exported (bench/README.md, 2026-12-07 08:32 section: 0.4 such
    statements per screening in careplan, 1.2 in notifications)."""
    with untraced():
        return asyncio.create_task(coroutine, name=name)


def in_context(parent: context.Context, call: Callable[[], T]) -> T:
    """Run `call` (in another thread) with `parent` as its OpenTelemetry context."""
    token = context.attach(parent)
    try:
        return call()
    finally:
        context.detach(token)


def current_traceparent() -> str | None:
    """The current span as a W3C `traceparent`, or None when nothing is traced."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return traceparent_of(span_context)


def traceparent_of(span_context: SpanContext) -> str:
    """A valid span context as the W3C propagator's `inject` writes its `traceparent`."""
    return f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{int(span_context.trace_flags):02x}"
