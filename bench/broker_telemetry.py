"""What the broker's telemetry middleware costs per message, in-process (no broker, no services).

Run from the repository root:

    .venv/bin/python bench/broker_telemetry.py [--messages 20000] [--rounds 5]

Under the compose file's sampler (parentbased_traceidratio, 0.1) it times, in CPU seconds of this
process, one delivery (a handler that does nothing) and one publish (a producer that sends
nothing) through FastStream's `RabbitTelemetryMiddleware` and through carecoord's
`SamplingAwareTelemetryMiddleware` (shared/broker_tracing.py), for messages whose trace is not
sampled and for sampled ones (recorded by a span processor that drops them), besides no
middleware at all; and a relayed publish: as the relay publishes a stored event, within
`continuing(traceparent)` (shared/tracing.py), which every arm pays. Rounds alternate the middlewares; the medians are printed in µs per message.
A count of work done in one process does not depend on the neighbours as much as the services'
throughput does (bench/observability.py).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from faststream._internal.context.repository import ContextRepo  # noqa: E402
from faststream.message import StreamMessage  # noqa: E402
from faststream.rabbit import RabbitExchange  # noqa: E402
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware  # noqa: E402
from faststream.rabbit.response import RabbitPublishCommand  # noqa: E402
from faststream.response.publish_type import PublishType  # noqa: E402
from opentelemetry import context  # noqa: E402
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased  # noqa: E402
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator  # noqa: E402

from shared.broker_tracing import SamplingAwareTelemetryMiddleware  # noqa: E402
from shared.tracing import continuing  # noqa: E402

TRACEPARENT = {"unsampled": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
               "sampled": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


def middlewares(provider: TracerProvider) -> dict[str, Any]:
    return {"FastStream's": RabbitTelemetryMiddleware(tracer_provider=provider),
            "carecoord's": SamplingAwareTelemetryMiddleware(tracer_provider=provider),
            "none": None}


async def deliveries(middleware: Any, traceparent: str, n: int) -> float:
    repo = ContextRepo()
    raw = SimpleNamespace(routing_key="intake.screening_completed", delivery_tag=1, exchange="carecoord.events")

    async def handler(_msg: Any) -> None:
        return None

    started = time.process_time()
    for _ in range(n):
        msg = StreamMessage(raw, b"{}", headers={"traceparent": traceparent, "x-carecoord-type": "t"},
                            message_id="m", correlation_id="c")
        if middleware is None:
            await handler(msg)
            continue
        async with middleware(msg, context=repo) as scope:
            await scope.consume_scope(handler, msg)
    return (time.process_time() - started) / n


async def publishes(middleware: Any, traceparent: str, n: int) -> float:
    repo = ContextRepo()
    exchange = RabbitExchange("carecoord.events")

    async def send(_cmd: Any) -> None:
        return None

    # As the relay publishes: inside the event's stored trace (shared/tracing.py: continuing).
    token = context.attach(TraceContextTextMapPropagator().extract({"traceparent": traceparent}))
    try:
        started = time.process_time()
        for _ in range(n):
            cmd = RabbitPublishCommand(b"{}", _publish_type=PublishType.PUBLISH, routing_key="intake.screening_completed",
                                       exchange=exchange, headers={"traceparent": traceparent}, correlation_id="c")
            if middleware is None:
                await send(cmd)
            else:
                await middleware(None, context=repo).publish_scope(send, cmd)
        return (time.process_time() - started) / n
    finally:
        context.detach(token)


async def relay_publishes(middleware: Any, traceparent: str, n: int) -> float:
    """As the relay publishes a stored event (shared/messaging.py BrokerPublisher._publish): the
    stored `traceparent` in the headers, published within `continuing` it."""
    repo = ContextRepo()
    exchange = RabbitExchange("carecoord.events")

    async def send(_cmd: Any) -> None:
        return None

    started = time.process_time()
    for _ in range(n):
        cmd = RabbitPublishCommand(b"{}", _publish_type=PublishType.PUBLISH, routing_key="intake.screening_completed",
                                   exchange=exchange, headers={"traceparent": traceparent}, correlation_id="c")
        with continuing(traceparent):
            if middleware is None:
                await send(cmd)
            else:
                await middleware(None, context=repo).publish_scope(send, cmd)
    return (time.process_time() - started) / n


class Dropping(SpanProcessor):
    """Receives every recorded span, as an exporter's processor would, and keeps none."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.1)))
    provider.add_span_processor(Dropping())
    chosen = middlewares(provider)
    timings: dict[tuple[str, str, str], list[float]] = {}
    for _ in range(args.rounds):
        for trace_kind, traceparent in TRACEPARENT.items():
            for name, middleware in chosen.items():
                for what, measure in (("delivery", deliveries), ("publish", publishes), ("relayed", relay_publishes)):
                    seconds = asyncio.run(measure(middleware, traceparent, args.messages))
                    timings.setdefault((trace_kind, what, name), []).append(seconds)
    print(f"µs of CPU per message, medians of {args.rounds} rounds of {args.messages}")
    for (trace_kind, what, name), values in timings.items():
        print(f"  {trace_kind:9} {what:8} {name:12} {1e6 * statistics.median(values):7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
