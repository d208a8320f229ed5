"""A tracer provider that records in memory, with the compose file's sampler counting how often it
is asked: the tracing tests assert that a short path asks it nothing."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, SamplingResult, TraceIdRatioBased


class CountingSampler(ParentBased):
    """The compose file's sampler, counting how often it is asked (once per span started)."""

    def __init__(self, ratio: float = 0.1) -> None:
        super().__init__(TraceIdRatioBased(ratio))
        self.asked = 0

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        self.asked += 1
        return super().should_sample(*args, **kwargs)


def recording_provider() -> tuple[TracerProvider, CountingSampler, InMemorySpanExporter]:
    sampler = CountingSampler()
    provider = TracerProvider(sampler=sampler)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, sampler, exporter
