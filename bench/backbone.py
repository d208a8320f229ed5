"""Benchmark of the event backbone: intake HTTP -> PostgreSQL -> relay -> RabbitMQ -> careplan.

Run from the repository root:

    .venv/bin/python bench/backbone.py [--screenings 3000] [--rate 100] [--latency-seconds 20] [--runs 3]

In one process it creates its own database and RabbitMQ vhost, starts the three services as
subprocesses against them, and per run measures:

  1. raw PostgreSQL: one connection inserting one event-sized row per transaction (the ceiling);
  2. throughput: screenings POSTed at concurrency 32 until careplan has stored all of them;
  3. latency: screenings sent open-loop at a fixed rate, each timed until careplan stored it.

Everything it created (database, vhost, processes) is removed at the end, also on failure or
Ctrl-C. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

# httpcore tries `import sniffio` on every request; without sniffio installed (anyio 4.x no longer
# needs it) each try searches sys.path on disk. A None entry makes it fail at once, as it would.
# Set before anything imports httpx.
sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

REPO_ROOT = Path(__file__).resolve().parent.parent
# The bench modules, and tests.support: the same isolation as the tests.
sys.path.insert(0, str(REPO_ROOT))

from bench.cpu import CpuMeter  # noqa: E402
from bench.load import IntakeClients  # noqa: E402
from bench.measure import measure_latency, measure_raw_insert_rate, measure_throughput  # noqa: E402
from bench.report import RunResult, describe_run, percentile, print_summary  # noqa: E402
from bench.stack import (  # noqa: E402
    ServiceGroup, add_server_options, run_benchmark_process, running_services,
)
from bench.watcher import CareplanWatcher  # noqa: E402
from tests.support.servers import Isolation  # noqa: E402




async def run_benchmark(args: argparse.Namespace, isolation: Isolation, services: ServiceGroup) -> list[RunResult]:
    watcher = CareplanWatcher(isolation.database_url)
    await watcher.start()
    intake = IntakeClients(services.by_name["intake"].url)
    cpu = CpuMeter(services)
    runs: list[RunResult] = []
    try:
        for number in range(1, args.runs + 1):
            label = f"run {number}/{args.runs}"
            retries_before = intake.retries
            raw = await measure_raw_insert_rate(isolation.database_url)
            print(f"{label}: raw baseline {raw:.0f} rows/s")
            throughput = await measure_throughput(intake, watcher, services, cpu, args.screenings, label)
            print(f"{label}: throughput {throughput.rate:.1f} screenings/s")
            latency = await measure_latency(intake, watcher, services, cpu, args.rate, args.latency_seconds, label)
            print(f"{label}: latency p99 {percentile(latency.end_to_end_ms, 99):.1f} ms")
            run = RunResult(raw, throughput, latency, intake.retries - retries_before)
            runs.append(run)
            print(describe_run(label, run))
    finally:
        await intake.aclose()
        await watcher.close()
    return runs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenings", type=int, default=3000, help="screenings sent in the throughput phase")
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s in the latency phase")
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="length of the latency phase")
    parser.add_argument("--runs", type=int, default=3, help="how many times to repeat the three measurements")
    add_server_options(parser)
    args = parser.parse_args(argv)
    if args.screenings < 1 or args.rate <= 0 or args.latency_seconds <= 0 or args.runs < 1:
        parser.error("--screenings, --rate, --latency-seconds and --runs must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def measure() -> None:
        with running_services(args) as (isolation, services):
            runs = asyncio.run(run_benchmark(args, isolation, services))
            print_summary(runs, args)

    return run_benchmark_process(measure)


if __name__ == "__main__":
    sys.exit(main())
