"""FastStream's OpenTelemetry middleware, without its per-message work on traces that are not sampled.

FastStream's `RabbitTelemetryMiddleware` (0.7.8) does all of its work before the sampler decides:
for every delivery it extracts the baggage and the trace context, builds attribute dicts, starts a
`process` span (and a `create` span when the message carries no context), enters context scopes
and records its histograms; for every publish a `create` and a `publish` span. At the compose
file's one trace in ten, nine of those spans in ten are non-recording: ~25 µs of CPU per
delivery and ~22 µs per publish, of which this short path leaves ~8 and ~7 (bench/README.md,
2026-12-07 04:08-04:39 UTC; bench/broker_telemetry.py), ~6.5 and ~5.5 since it builds a
delivery's parent and writes a publish's `traceparent` directly (08:32 section).

When the trace is not sampled, only propagation matters: a delivery whose `traceparent` says
"not sampled" is processed in that context, and a publish made in a context that is not sampled
carries that context's `traceparent` on. Everything downstream (the events a consumer records,
its publishes, the database drivers' spans) then stays in the same trace, and a parent-based
sampler keeps it unsampled: nothing is recorded for it anywhere, exactly as before, at a
fraction of the cost. Sampled traces, messages without a `traceparent`, messages with baggage
and batches go through FastStream's code unchanged.

This relies on the sampler dropping every child of an unsampled parent (every `parentbased_*`
sampler does, the SDK's default among them); the tracer provider's sampler is asked once, and
with any other sampler FastStream's code does everything as before. Worth proposing upstream:
FastStream could take this path itself when the extracted or current span is not sampled.
"""

from __future__ import annotations

from typing import Any

from faststream._internal.context.repository import ContextRepo
from faststream.message import StreamMessage
from faststream.opentelemetry.middleware import BaseTelemetryMiddleware
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from faststream.rabbit.response import RabbitPublishCommand
from opentelemetry import context, trace
from opentelemetry.sdk.trace.sampling import Decision, Sampler
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.tracing import stored_trace_context, traceparent_of

_propagator = TraceContextTextMapPropagator()


def drops_children_of_unsampled_parents(sampler: Sampler | None) -> bool:
    """Whether `sampler` drops a span whose parent (remote or local) is not sampled, whatever the
    trace id: then skipping such spans changes nothing that is recorded."""
    if sampler is None:
        return False
    for remote in (True, False):
        # Trace id 1: a ratio sampler that ignores the parent would sample it.
        parent = NonRecordingSpan(SpanContext(trace_id=1, span_id=1, is_remote=remote, trace_flags=TraceFlags(0)))
        decision = sampler.should_sample(trace.set_span_in_context(parent), 1, "probe").decision
        if decision is not Decision.DROP:
            return False
    return True


def _unsampled(span_context: SpanContext) -> bool:
    return span_context.is_valid and not span_context.trace_flags.sampled


class SamplingAwareTelemetryMiddleware(RabbitTelemetryMiddleware):
    """FastStream's RabbitMQ telemetry middleware, taking the short path for unsampled traces
    when the process's sampler allows it (see the module's docstring)."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        super().__init__(tracer_provider=tracer_provider)
        sampler = getattr(tracer_provider or trace.get_tracer_provider(), "sampler", None)
        self._skips_unsampled = drops_children_of_unsampled_parents(sampler)

    def __call__(self, msg: Any | None, /, *, context: ContextRepo) -> BaseTelemetryMiddleware[RabbitPublishCommand]:
        return _SamplingAwareScope(
            msg,
            tracer=self._tracer,
            metrics_container=self._metrics,
            settings_provider_factory=self._settings_provider_factory,
            context=context,
            skips_unsampled=self._skips_unsampled,
        )


class _SamplingAwareScope(BaseTelemetryMiddleware[RabbitPublishCommand]):
    __slots__ = ("_skips_unsampled",)

    def __init__(self, msg: Any | None, /, *, skips_unsampled: bool, **options: Any) -> None:
        super().__init__(msg, **options)
        self._skips_unsampled = skips_unsampled

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        parent = self._unsampled_parent(msg) if self._skips_unsampled else None
        if parent is None:
            return await super().consume_scope(call_next, msg)
        token = context.attach(parent)
        try:
            return await call_next(msg)
        finally:
            context.detach(token)

    async def publish_scope(self, call_next: Any, msg: RabbitPublishCommand) -> Any:
        if self._skips_unsampled and len(msg.batch_bodies) <= 1 \
                and self.context.get_local("baggage") is None:  # set only by FastStream's own consume
            current = trace.get_current_span().get_span_context()
            if _unsampled(current):
                # The current (unsampled) context passed on, written as the propagator's `inject`
                # writes it, from the span context already at hand (`inject` would look it up again).
                headers = msg.headers
                headers["traceparent"] = traceparent_of(current)
                if current.trace_state:
                    headers["tracestate"] = current.trace_state.to_header()
                return await call_next(msg)
        return await super().publish_scope(call_next, msg)

    @staticmethod
    def _unsampled_parent(msg: StreamMessage[Any]) -> context.Context | None:
        """The delivery's trace context if it names a trace that is not sampled (and the delivery
        carries nothing else FastStream would pass on: no baggage, not a batch), else None."""
        headers = msg.headers
        if "traceparent" not in headers or "baggage" in headers or msg.batch_headers:
            return None
        traceparent = headers["traceparent"]
        if isinstance(traceparent, str) and "tracestate" not in headers:
            parent = stored_trace_context(traceparent)  # the propagator's answer, built directly
        else:
            parent = _propagator.extract(headers)
        return parent if _unsampled(trace.get_current_span(parent).get_span_context()) else None
