"""What observability costs: the backbone's throughput with tracing and metrics on, beside off.

Run from the repository root:

    .venv/bin/python bench/observability.py [--screenings 2000] [--pairs 3] [--scrape-seconds 5]

Each pair starts the three services twice, each time on a database and vhost of their own, in
alternating order (off, on, on, off, ...: a drift of the machine's load over the run falls on
both sides alike), and measures the throughput phase of bench/backbone.py:

  off: no OTEL_* variables (nothing instrumented); nobody scrapes /metrics (the counters that
       the services always keep are still counted);
  on:  traces exported over OTLP/HTTP to a local sink (a real HTTP server that accepts and
       counts what the exporters send, as a collector would), a --sampled share of traces
       (the standard parentbased_traceidratio sampler; 1.0 = every trace), and
       /metrics of each service scraped every --scrape-seconds (Prometheus' default is 15 s).

It prints each measurement, then the medians and the ratio on/off of throughput and of the
services' CPU seconds per screening (the CPU figure is steadier on a shared machine). The
target (issue 18): observability costs under 10% of throughput, i.e. a ratio of at least 0.90.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]  # see bench/backbone.py

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402

from bench.cpu import CpuMeter  # noqa: E402
from bench.load import IntakeClients  # noqa: E402
from bench.measure import measure_throughput  # noqa: E402
from bench.stack import (  # noqa: E402
    SERVICE_NAMES, BenchError, ServiceGroup, add_server_options, run_benchmark_process, running_services,
)
from bench.watcher import CareplanWatcher  # noqa: E402


class OtlpSink(ThreadingHTTPServer):
    """Accepts OTLP/HTTP exports as a collector would (200, empty protobuf response) and counts them."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SinkHandler)
        self.requests = 0
        self.bytes = 0
        self.counting = False
        self.spans: Counter[tuple[str, str]] = Counter()  # see spans_in, when counting
        self._lock = threading.Lock()

    def received(self, body: bytes) -> None:
        with self._lock:
            self.requests += 1
            self.bytes += len(body)
            if self.counting:
                self.spans.update(spans_in(body))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _SinkHandler(BaseHTTPRequestHandler):
    server: OtlpSink

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        size = int(self.headers.get("Content-Length", 0))
        self.server.received(self.rfile.read(size))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep the bench's output clean
        pass


def spans_in(body: bytes) -> Iterator[tuple[str, str]]:
    """(service, "instrumentation: span name") of each span in one OTLP/HTTP protobuf export, the
    name marked "(root)" for a span that starts a trace of its own."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest.FromString(body)
    for resource_spans in request.resource_spans:
        service = next((a.value.string_value for a in resource_spans.resource.attributes
                        if a.key == "service.name"), "?")
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name.removeprefix("opentelemetry.instrumentation.")
            for span in scope_spans.spans:
                yield service, f"{scope}: {span.name}{'' if span.parent_span_id else ' (root)'}"


@contextmanager
def otlp_sink() -> Iterator[OtlpSink]:
    sink = OtlpSink()
    thread = threading.Thread(target=sink.serve_forever, name="otlp-sink", daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        sink.shutdown()
        sink.server_close()


def tracing_env(sink: OtlpSink, sampled: float) -> dict[str, dict[str, str]]:
    # The standard sampler variables: a trace's root decides, every service follows its parent.
    settings = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": str(sampled)}
    return {name: dict(settings, OTEL_SERVICE_NAME=f"carecoord-{name}") for name in SERVICE_NAMES}


async def scrape_forever(services: ServiceGroup, every: float, scrapes: list[int]) -> None:
    async with httpx.AsyncClient(timeout=5.0) as client:
        while True:
            for process in services.processes:
                response = await client.get(f"{process.url}/metrics")
                if response.status_code != 200:
                    raise BenchError(f"{process.name} /metrics answered HTTP {response.status_code}")
                scrapes[0] += 1
            await asyncio.sleep(every)


@dataclass(frozen=True)
class Measurement:
    observed: bool
    rate: float
    cpu_per_screening_ms: float
    scrapes: int
    exported_requests: int
    service_cpu_ms: dict[str, float]  # per screening, each service


async def measure_once(args: argparse.Namespace, services: ServiceGroup, database_url: str, observed: bool,
                       sink: OtlpSink) -> Measurement:
    watcher = CareplanWatcher(database_url)
    await watcher.start()
    intake = IntakeClients(services.by_name["intake"].url)
    scrapes = [0]
    scraping = asyncio.create_task(scrape_forever(services, args.scrape_seconds, scrapes)) if observed else None
    exported_before = sink.requests
    try:
        label = "on " if observed else "off"
        result = await measure_throughput(intake, watcher, services, CpuMeter(services), args.screenings, label)
    finally:
        if scraping is not None:
            scraping.cancel()
            try:
                await scraping
            except asyncio.CancelledError:
                pass
        await intake.aclose()
        await watcher.close()
    service_cpu = sum(result.cpu_seconds[name] for name in SERVICE_NAMES)
    per_service = {name: 1000 * result.cpu_seconds[name] / result.screenings for name in SERVICE_NAMES}
    return Measurement(observed, result.rate, 1000 * service_cpu / result.screenings, scrapes[0],
                       sink.requests - exported_before, per_service)


def run_configuration(args: argparse.Namespace, observed: bool, sink: OtlpSink) -> Measurement:
    env = tracing_env(sink, args.sampled) if observed else None
    sink.spans.clear()
    sink.counting = args.count_spans
    with running_services(args, env) as (isolation, services):
        measurement = asyncio.run(measure_once(args, services, isolation.database_url, observed, sink))
    if observed and args.count_spans:
        print_span_counts(sink, args.screenings)
    if observed and measurement.exported_requests == 0:
        raise BenchError("tracing was on but no service exported a span to the sink")
    print(f"{'on ' if observed else 'off'}: {measurement.rate:.1f} screenings/s, "
          f"{measurement.cpu_per_screening_ms:.2f} ms service CPU per screening, "
          f"{measurement.scrapes} scrapes, {measurement.exported_requests} OTLP exports ("
          + ", ".join(f"{name} {ms:.2f}" for name, ms in measurement.service_cpu_ms.items()) + ")")
    return measurement


def print_span_counts(sink: OtlpSink, screenings: int) -> None:
    # Everything the run exported, the registrations and the idle time around the phase included.
    print(f"spans exported by the run (start to stop), per screening of the {screenings}:")
    for (service, name), count in sorted(sink.spans.items()):
        print(f"  {service:24} {name[:70]:70} {count / screenings:7.3f}")


def summarise(measurements: list[Measurement]) -> None:
    def median(observed: bool, field: str) -> float:
        return statistics.median(getattr(m, field) for m in measurements if m.observed is observed)

    rate_off, rate_on = median(False, "rate"), median(True, "rate")
    cpu_off, cpu_on = median(False, "cpu_per_screening_ms"), median(True, "cpu_per_screening_ms")
    pairs = len(measurements) // 2
    print(f"\nmedians of {pairs} alternating pairs")
    print(f"  throughput    off {rate_off:8.1f}/s   on {rate_on:8.1f}/s   on/off {rate_on / rate_off:.3f}"
          f"   (target >= 0.90)")
    print(f"  service CPU   off {cpu_off:8.2f} ms  on {cpu_on:8.2f} ms  on/off {cpu_on / cpu_off:.3f}"
          f"   per screening")
    for name in SERVICE_NAMES:
        off = statistics.median(m.service_cpu_ms[name] for m in measurements if not m.observed)
        on = statistics.median(m.service_cpu_ms[name] for m in measurements if m.observed)
        print(f"    {name:13} off {off:8.2f} ms  on {on:8.2f} ms  on - off {on - off:+.2f} ms")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenings", type=int, default=2000, help="screenings in each throughput phase")
    parser.add_argument("--pairs", type=int, default=3, help="alternating off/on pairs")
    parser.add_argument("--sampled", type=float, default=1.0,
                        help="share of traces sampled when on (OTEL_TRACES_SAMPLER_ARG; 1.0 = every one)")
    parser.add_argument("--scrape-seconds", type=float, default=5.0, help="how often /metrics is scraped when on")
    parser.add_argument("--count-spans", action="store_true",
                        help="decode the exports and print the spans of each 'on' run by service and name "
                             "(with --sampled 1.0: every span the instrumentations make)")
    add_server_options(parser)
    args = parser.parse_args(argv)
    if args.screenings < 1 or args.pairs < 1 or args.scrape_seconds <= 0:
        parser.error("--screenings, --pairs and --scrape-seconds must be positive")
    if not 0 < args.sampled <= 1:
        parser.error("--sampled must be in (0, 1]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def measure() -> None:
        measurements: list[Measurement] = []
        with otlp_sink() as sink:
            for pair in range(args.pairs):
                # off-on, then on-off: each side gets the earlier slot as often as the later one.
                order = (False, True) if pair % 2 == 0 else (True, False)
                for observed in order:
                    measurements.append(run_configuration(args, observed, sink))
        summarise(measurements)

    return run_benchmark_process(measure)


if __name__ == "__main__":
    sys.exit(main())
