"""The relay's `continuing(traceparent)`: its direct build of a stored `traceparent`'s context gives
exactly what the W3C propagator extracts, for the stored form and for anything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import baggage, context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.tracing import continuing, current_traceparent, stored_trace_context

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"
PROPAGATOR = TraceContextTextMapPropagator()


def as_extracted(ctx: context.Context) -> tuple[list[tuple[str, type]], SpanContext]:
    """What a context holds, comparable across two builds (each makes its own span object)."""
    return sorted((key, type(value)) for key, value in ctx.items()), trace.get_current_span(ctx).get_span_context()


def propagators_answer(traceparent: str) -> tuple[list[tuple[str, type]], SpanContext]:
    return as_extracted(PROPAGATOR.extract({"traceparent": traceparent}))


@pytest.mark.parametrize("traceparent", [
    f"00-{TRACE}-{SPAN}-00",  # not sampled: nine traces in ten
    f"00-{TRACE}-{SPAN}-01",  # sampled
    f"00-{TRACE}-{SPAN}-02",  # other flags kept as they are
    f"00-{TRACE}-{SPAN}-ff",
    f"01-{TRACE}-{SPAN}-00",  # a later version: the propagator's own parse
    f"01-{TRACE}-{SPAN}-01-extra",
    f"ff-{TRACE}-{SPAN}-01",  # refused
    f"00-{'0' * 32}-{SPAN}-01",  # ids of zeros: refused
    f"00-{TRACE}-{'0' * 16}-01",
    f"00-{TRACE.upper()}-{SPAN}-01",  # not lower-case: refused
    f" 00-{TRACE}-{SPAN}-01\t",  # padded: the propagator accepts it
    f"00-{TRACE}-{SPAN}-01-extra",  # version 00 with more: refused
    f"00-{TRACE}-{SPAN}-1",
    "garbage",
])
def test_the_context_built_is_the_propagators(traceparent):
    # Built afresh, as the propagator builds it: nothing of the current context (its baggage) in it.
    token = context.attach(baggage.set_baggage("tenant", "t1"))
    try:
        assert as_extracted(stored_trace_context(traceparent)) == propagators_answer(traceparent)
    finally:
        context.detach(token)


def test_a_stored_traceparent_is_continued_as_a_remote_parent_with_its_flags():
    _keys, unsampled = as_extracted(stored_trace_context(f"00-{TRACE}-{SPAN}-00"))
    _keys, sampled = as_extracted(stored_trace_context(f"00-{TRACE}-{SPAN}-01"))

    assert unsampled == SpanContext(int(TRACE, 16), int(SPAN, 16), is_remote=True, trace_flags=TraceFlags(0))
    assert not unsampled.trace_flags.sampled and sampled.trace_flags.sampled


HEX = "0123456789abcdef"


@given(st.one_of(
    st.builds(lambda v, t, s, f: f"{v}-{t}-{s}-{f}", st.text(HEX, min_size=2, max_size=2),
              st.text(HEX, min_size=32, max_size=32), st.text(HEX, min_size=16, max_size=16),
              st.text(HEX + "F-", min_size=1, max_size=3)),
    st.text(HEX + "-Ff_ +", max_size=60),
))
def test_any_value_gives_the_propagators_context(traceparent):
    assert as_extracted(stored_trace_context(traceparent)) == propagators_answer(traceparent)


def test_within_continuing_spans_continue_the_stored_trace_and_the_context_is_put_back_after():
    stored = f"00-{TRACE}-{SPAN}-00"
    outer = trace.set_span_in_context(NonRecordingSpan(SpanContext(1, 2, is_remote=False)))
    token = context.attach(outer)
    try:
        with continuing(stored):
            assert current_traceparent() == stored
        with continuing(None):
            assert context.get_current() is outer
        with continuing("garbage"):  # as the propagator: an empty context, nothing of the outer one
            assert current_traceparent() is None
        assert context.get_current() is outer
    finally:
        context.detach(token)
