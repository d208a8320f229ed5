"""FastAPI's server spans, without its per-request work on traces that are not sampled.

FastAPI's native telemetry (0.165) does all of its work before the sampler decides: for every
request it walks the middleware stack looking for contrib's middleware, parses the Host header,
builds attribute dicts, extracts the caller's context, starts a span, and on the response sets
its attributes and ends it. At the compose file's one trace in ten, nine of those spans in ten
are non-recording. In one process a request cost 36 µs of CPU untraced, 75 with FastAPI's
telemetry, 62 asked ahead; in the running intake, FastAPI's part of each screening's profile
fell by a third (bench/README.md, 2026-12-07 09:00-09:41 section; bench/tracing_cost.py).

So the sampler is asked first, through FastAPI's own `exclude` hook, with the caller's context:
- sampled: FastAPI traces the request exactly as before, and its span takes this decision (the
  sampler is asked once per request; asking it again would sample a root one time in a hundred,
  not one in ten);
- not sampled: FastAPI is told to skip the request, and the request runs in a non-recording span
  that the SDK starts with the same decision. What matters of an unsampled trace, propagation,
  is kept: the request's events store its `traceparent`, marked not sampled, and everything
  downstream (relay, broker, consumers) continues that trace unsampled, as before.

The process's provider must carry a `DecidedAhead` sampler (shared/tracing.py's `tracer_provider`
builds one); with any other (a test's own provider), FastAPI decides alone, as before.
Worth proposing upstream: FastAPI could ask the sampler before building the span's attributes.
"""

from __future__ import annotations

from collections.abc import Collection, MutableMapping, Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, Tracer
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

# The decision taken for the request whose server span is about to start in this context.
_decided: ContextVar[SamplingResult | None] = ContextVar("carecoord_decided_sampling", default=None)
_UNSAMPLED_CONTEXT = "carecoord.unsampled_trace"  # scope key: the context an excluded request runs in


class DecidedAhead(Sampler):
    """The configured sampler, except that the next server span in a context takes the decision
    made for its request ahead of it (once)."""

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[Link] | None = None, trace_state: TraceState | None = None) -> SamplingResult:
        if kind is SpanKind.SERVER and (decided := _decided.get()) is not None:
            _decided.set(None)
            return decided
        return self.sampler.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return self.sampler.get_description()


class _HeadersGetter(Getter[Headers]):
    def get(self, carrier: Headers, key: str) -> list[str] | None:
        values = carrier.getlist(key)
        if not values:
            return None
        # As FastAPI reads them: the baggage propagator reads only the first value.
        return [",".join(values)] if key == "baggage" else values

    def keys(self, carrier: Headers) -> list[str]:
        return carrier.keys()


_headers = _HeadersGetter()


class RequestSampling:
    """FastAPI's telemetry `exclude` hook: True for `untraced_paths` and for requests whose trace is
    not sampled (which then run in the context `UnsampledRequestContext` attaches)."""

    def __init__(self, untraced_paths: Collection[str], provider: TracerProvider | None = None) -> None:
        self.untraced_paths = untraced_paths
        self._provider = provider
        self._tracer: tuple[TracerProvider, Tracer] | None = None  # getting one costs ~50 us

    def __call__(self, scope: MutableMapping[str, Any]) -> bool:
        if scope.get("path") in self.untraced_paths:
            return True
        provider = self._provider or trace.get_tracer_provider()
        sampler = getattr(provider, "sampler", None)
        if scope["type"] != "http" or not isinstance(sampler, DecidedAhead):
            return False
        assert isinstance(provider, TracerProvider)  # only the SDK's provider has a sampler
        parent = propagate.extract(Headers(scope=scope), getter=_headers)
        parent_span = trace.get_current_span(parent).get_span_context()
        trace_id = parent_span.trace_id if parent_span.is_valid else provider.id_generator.generate_trace_id()
        name = scope["method"]
        decision = sampler.sampler.should_sample(parent, trace_id, name, SpanKind.SERVER)
        _decided.set(decision)
        if decision.decision.is_recording():
            return False  # FastAPI's span, which takes this decision
        span = self._tracer_of(provider).start_span(name, context=parent, kind=SpanKind.SERVER)
        scope[_UNSAMPLED_CONTEXT] = trace.set_span_in_context(span, parent)
        return True

    def _tracer_of(self, provider: TracerProvider) -> Tracer:
        if self._tracer is None or self._tracer[0] is not provider:
            self._tracer = (provider, provider.get_tracer(__name__))
        return self._tracer[1]


class UnsampledRequestContext:
    """Runs a request that `RequestSampling` kept from FastAPI's telemetry in its unsampled trace,
    as FastAPI runs the others in theirs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        unsampled = scope.pop(_UNSAMPLED_CONTEXT, None)
        if unsampled is None:
            await self.app(scope, receive, send)
            return
        token = context.attach(unsampled)
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)
