"""What each part of tracing costs per unit of work, in-process (no services, no broker).

Run from the repository root, with the local PostgreSQL:

    .venv/bin/python bench/tracing_cost.py [--calls 5000] [--rounds 5] [--postgres-url ...]

Under the compose file's sampler (parentbased_traceidratio, 0.1; recorded spans go to a span
processor that drops them), it times in CPU seconds of this process, arms alternating within
each round:

  asyncpg / psycopg statement: `SELECT 1` on one connection (the round trip's own CPU is in
      every arm), with no instrumentation, with the maintained instrumentation, and with
      carecoord's (shared/statement_tracing.py); in an unsampled trace (a delivery's statements)
      outside any trace (a poller's: each statement is offered to the sampler as a root), untraced
      (a log tailer's since 2026-12-07: shared/tracing.py untraced_task), and in a sampled trace
      (recorded);
  HTTP request: a GET through FastAPI with carecoord's telemetry configuration off and on
      (shared/bootstrap.py http_telemetry): without a `traceparent` (a root, as the bench sends),
      and with a caller's unsampled or sampled one;
  log record: the JSON formatter (shared/telemetry.py) outside any span and in an unsampled one;
  exporting: encoding one recorded span as the OTLP exporter's thread does (per span).

It prints the median and the lowest over the rounds, in µs of CPU per call (on a busy machine
the neighbours only ever add to a round's figure: the lowest is the steadier of the two). bench/broker_telemetry.py does the same for the
broker's middleware; bench/README.md multiplies both by the calls per screening.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import asyncpg  # noqa: E402
import psycopg  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from opentelemetry import context, trace  # noqa: E402
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans  # noqa: E402
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor  # noqa: E402
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased  # noqa: E402
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags  # noqa: E402

from shared.bootstrap import UNTRACED_PATHS, http_telemetry  # noqa: E402
from shared.request_sampling import UnsampledRequestContext  # noqa: E402
from shared.tracing import tracer_provider  # noqa: E402
from shared.statement_tracing import SamplingAwareAsyncPGInstrumentor, SamplingAwarePsycopgInstrumentor  # noqa: E402
from shared.telemetry import JsonFormatter  # noqa: E402
from shared.tracing import untraced  # noqa: E402

PARENTS = {flag: NonRecordingSpan(SpanContext(trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0xB7AD6B7169203331,
                                             is_remote=True, trace_flags=TraceFlags(flag)))
           for flag in (0, 1)}
TRACEPARENT = {"unsampled": b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
               "sampled": b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
Timings = dict[str, list[float]]


class Keeping(SpanProcessor):
    """Receives every recorded span, as an exporter's processor would; keeps the last few to encode."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        if len(self.spans) < 512:
            self.spans.append(span)


@contextmanager
def within(trace_kind: str) -> Iterator[None]:
    if trace_kind == "root":
        yield
        return
    if trace_kind == "untraced":  # a log tailer's statements (shared/tracing.py untraced_task)
        with untraced():
            yield
        return
    token = context.attach(trace.set_span_in_context(PARENTS[trace_kind == "sampled"]))
    try:
        yield
    finally:
        context.detach(token)


INSTRUMENTORS = {"asyncpg": {"maintained": AsyncPGInstrumentor, "carecoord's": SamplingAwareAsyncPGInstrumentor},
                 "psycopg": {"maintained": PsycopgInstrumentor, "carecoord's": SamplingAwarePsycopgInstrumentor}}


@contextmanager
def instrumented(driver: str, arm: str, provider: TracerProvider) -> Iterator[None]:
    if arm == "none":
        yield
        return
    instrumentor = INSTRUMENTORS[driver][arm]()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield
    finally:
        instrumentor.uninstrument()


TOO_MANY_CLIENTS_RETRIES = 60  # one a second: the server is shared with other benchmarks and tests


async def asyncpg_connection(url: str) -> asyncpg.Connection:
    for _ in range(TOO_MANY_CLIENTS_RETRIES):
        try:
            return await asyncpg.connect(url)
        except asyncpg.TooManyConnectionsError:
            await asyncio.sleep(1)
    return await asyncpg.connect(url)


def psycopg_connection(url: str) -> psycopg.Connection:
    for _ in range(TOO_MANY_CLIENTS_RETRIES):
        try:
            return psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as error:
            if "too many clients" not in str(error):
                raise
            time.sleep(1)
    return psycopg.connect(url, autocommit=True)


async def asyncpg_statements(url: str, n: int) -> float:
    connection = await asyncpg_connection(url)
    try:
        await connection.fetchval("SELECT 1")
        started = time.process_time()
        for _ in range(n):
            await connection.fetchval("SELECT 1")
        return (time.process_time() - started) / n
    finally:
        await connection.close()


def psycopg_statements(url: str, n: int) -> float:
    # Connected inside the arm: the instrumentation patches how connections are made.
    with psycopg_connection(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        started = time.process_time()
        for _ in range(n):
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return (time.process_time() - started) / n


def http_app(arm: str) -> FastAPI:
    """arm: "off"; "FastAPI's" (its telemetry deciding alone, as before shared/request_sampling.py);
    "asked ahead" (carecoord's configuration: the sampler asked before FastAPI's work)."""
    telemetry = http_telemetry(arm != "off")
    if arm == "FastAPI's":
        telemetry["exclude"] = lambda scope: scope.get("path") in UNTRACED_PATHS
    app = FastAPI(telemetry=telemetry)
    app.add_middleware(UnsampledRequestContext)

    @app.get("/people/{person_id}/screenings")
    async def screenings(person_id: str) -> dict[str, str]:
        return {"person_id": person_id}

    return app


async def http_requests(app: FastAPI, traceparent: bytes | None, n: int) -> float:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/people/p1/screenings", "raw_path": b"/people/p1/screenings", "query_string": b"",
             "root_path": "", "headers": [(b"host", b"intake"), (b"accept", b"application/json")],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000), "state": {}}
    if traceparent:
        scope["headers"] = [*scope["headers"], (b"traceparent", traceparent)]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict[str, Any]) -> None:
        return None

    await app(dict(scope), receive, send)
    started = time.process_time()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return (time.process_time() - started) / n


def log_records(n: int) -> float:
    formatter = JsonFormatter("intake")
    record = logging.makeLogRecord({"msg": "published %d events", "args": (3,), "levelname": "INFO", "name": "relay"})
    started = time.process_time()
    for _ in range(n):
        formatter.format(record)
    return (time.process_time() - started) / n


def span_encodings(spans: list[ReadableSpan], n: int) -> float:
    started = time.process_time()
    encoded = 0
    while encoded < n:
        encode_spans(spans).SerializeToString()
        encoded += len(spans)
    return (time.process_time() - started) / encoded


def measure_round(args: argparse.Namespace, provider: TracerProvider, keeping: Keeping, timings: Timings) -> None:
    def record(name: str, seconds: float) -> None:
        timings.setdefault(name, []).append(seconds)

    arms = ["none", "maintained", "carecoord's"]
    shift = len(timings.get("HTTP request, off, root", ())) % len(arms)  # this round's number
    for driver in () if args.only_http else ("asyncpg", "psycopg"):
        for arm in arms[shift:] + arms[:shift]:  # each arm first, second and last in turn
            with instrumented(driver, arm, provider):
                for trace_kind in ("unsampled", "root", "untraced", "sampled"):
                    with within(trace_kind):
                        if driver == "asyncpg":
                            seconds = asyncio.run(asyncpg_statements(args.postgres_url, args.calls))
                        else:
                            seconds = psycopg_statements(args.postgres_url, args.calls)
                    record(f"{driver} statement, {trace_kind:9}, {arm}", seconds)
    http_arms = [("off", None)] + [(arm, caller) for caller in (None, "unsampled", "sampled")
                                   for arm in ("FastAPI's", "asked ahead")]
    for arm, caller in http_arms[shift:] + http_arms[:shift]:
        seconds = asyncio.run(http_requests(http_app(arm), TRACEPARENT[caller] if caller else None, args.calls))
        record(f"HTTP request, {arm}, {caller or 'root'}", seconds)
    if args.only_http:
        return
    for trace_kind in ("root", "unsampled"):
        with within(trace_kind):
            record(f"log record, {'no span' if trace_kind == 'root' else 'unsampled span'}", log_records(args.calls))
    record("exporting, per recorded span", span_encodings(keeping.spans, args.calls))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only-http", action="store_true", help="only the HTTP requests' arms")
    parser.add_argument("--postgres-url", default=os.environ.get("CARECOORD_TEST_POSTGRES_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    provider = tracer_provider(sampler=ParentBased(TraceIdRatioBased(0.1)))  # as the services build theirs
    keeping = Keeping()
    provider.add_span_processor(keeping)
    trace.set_tracer_provider(provider)  # FastAPI's telemetry uses the global one, as in the services
    timings: Timings = {}
    for _ in range(args.rounds):
        measure_round(args, provider, keeping, timings)
    print(f"µs of CPU per call over {args.rounds} rounds of {args.calls}: median, lowest "
          f"(parentbased_traceidratio 0.1; load average {os.getloadavg()[0]:.1f})")
    for name, values in timings.items():
        print(f"  {name:52} {1e6 * statistics.median(values):7.1f} {1e6 * min(values):7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
