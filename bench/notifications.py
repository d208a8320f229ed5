"""Benchmark of crisis notices: intake accepting a crisis contact -> a signed webhook at a local
receiver, and -> the event on notifications' live stream (SSE).

Run from the repository root:

    .venv/bin/python bench/notifications.py [--rate 100] [--seconds 20] [--backlog 5000] [--runs 2]

In one process it creates its own database and RabbitMQ vhost, starts the three services as
subprocesses against them (bench/stack.py), starts two webhook receivers (fast, and slow: one
request at a time, each answered after 200 ms) and follows the live stream, and per run measures:

  1. the raw baseline: publish -> consume -> commit -> signed POST to the receiver, no application;
  2. crises at --crisis-rate amid routine screenings at --rate, each timed to the webhook and SSE;
  3. crises behind --backlog routine deliveries queued for the slow receiver: to the fast
     receiver, to the slow receiver's urgent lane, and on the stream.

Everything it created is removed at the end, also on failure or Ctrl-C. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

# See bench/backbone.py: httpcore's `import sniffio` on every request, without sniffio installed.
sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.arrivals import Expectations, StreamChannel, webhook_channel  # noqa: E402
from bench.baseline import measure_baseline  # noqa: E402
from bench.cpu import CpuMeter  # noqa: E402
from bench.crisis_hops import HOPS_ENV, describe_hops, read_marks  # noqa: E402
from bench.crisis import MEMBER, MEMBER_ROLE, Caseload, Senders, behind_a_backlog, under_routine_traffic  # noqa: E402
from bench.load import IntakeClients  # noqa: E402
from bench.notifications_report import NotificationRun, describe_run, print_summary  # noqa: E402
from bench.report import percentile  # noqa: E402
from bench.stack import (  # noqa: E402
    BenchError, ServiceGroup, add_server_options, run_benchmark_process, running_services, staff_token,
)
from tests.support.servers import Isolation  # noqa: E402

# Receivers on 127.0.0.1 over plain http: development only, as the tests allow it.
NOTIFICATIONS_ENV = {"notifications": {"WEBHOOK_ALLOW_LOOPBACK_HTTP": "true"}}


async def run_benchmark(args: argparse.Namespace, isolation: Isolation, services: ServiceGroup) -> list[NotificationRun]:
    expectations = Expectations()
    intake = IntakeClients(services.by_name["intake"].url)
    caseload = Caseload(intake, services)
    senders = Senders(intake, expectations)
    cpu = CpuMeter(services)
    runs: list[NotificationRun] = []
    stream = StreamChannel(services.by_name["notifications"].url, staff_token(MEMBER_ROLE, MEMBER), expectations)
    try:
        async with webhook_channel("fast", expectations) as fast, webhook_channel("slow", expectations, slow=True) as slow:
            print(f"forming {args.routine_people + args.crisis_people} care teams ...")
            formed = time.perf_counter()
            routine_people = await caseload.people(args.routine_people)
            crisis_people = await caseload.people(args.crisis_people)
            print(f"  formed in {time.perf_counter() - formed:.1f}s")
            # After the teams: the registrations' own notices are not part of what is counted.
            fast_subscription = await caseload.subscribe(fast)
            await stream.start()
            intake.prepare(min(256, int(args.rate)))
            for number in range(1, args.runs + 1):
                label = f"run {number}/{args.runs}"
                baseline = await measure_baseline(isolation.amqp_url, isolation.database_url, fast, fast.secret)
                print(f"{label}: raw baseline p50 {percentile(baseline.total_ms, 50):.1f} ms")
                traffic = await under_routine_traffic(senders, routine_people, crisis_people, fast, stream, services,
                                                      cpu, args.rate, args.crisis_rate, args.seconds)
                print(f"{label}: under routine traffic, crisis -> webhook p99 "
                      f"{percentile(traffic.latencies_ms('fast'), 99):.1f} ms")
                backlog = await behind_a_backlog(senders, caseload, routine_people, crisis_people, fast, fast_subscription, slow, stream,
                                                 services, cpu, args.backlog, args.crisis_rate, args.backlog_seconds)
                run = NotificationRun(baseline, traffic, backlog)
                runs.append(run)
                print(describe_run(label, run, args))
                if args.hops:
                    marks = read_marks(process.log_path for process in services.processes)
                    for phase in (traffic, backlog):
                        print(f"  {phase.name}:")
                        print("\n".join(describe_hops(phase.crises, marks, phase.channels)))
            if fast.forged or slow.forged:
                raise BenchError(f"deliveries that failed verification: fast {fast.forged}, slow {slow.forged}")
            if expectations.unexpected:
                print(f"crisis notices nobody waited for (per channel): {expectations.unexpected}")
    finally:
        await stream.close()
        await caseload.aclose()
        await intake.aclose()
    return runs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="routine screenings/s in phase 1")
    parser.add_argument("--crisis-rate", type=float, default=2.0, help="crisis contacts/s in both phases")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long crises are sent in phase 1")
    parser.add_argument("--backlog", type=int, default=5000, help="routine deliveries queued for the slow receiver")
    parser.add_argument("--backlog-seconds", type=float, default=10.0, help="how long crises are sent in phase 2")
    parser.add_argument("--routine-people", type=int, default=100, help="people the routine screenings are for")
    parser.add_argument("--crisis-people", type=int, default=40, help="people the crisis contacts are for")
    parser.add_argument("--runs", type=int, default=2, help="how many times to repeat the measurements")
    parser.add_argument("--service-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for every service (e.g. GIL_SWITCH_INTERVAL_MS=1); repeatable")
    parser.add_argument("--hops", action="store_true",
                        help="also where each crisis waited, from the services' hop marks (bench/crisis_hops.py)")
    add_server_options(parser)
    args = parser.parse_args(argv)
    if min(args.rate, args.crisis_rate, args.seconds, args.backlog_seconds) <= 0 or min(
            args.backlog, args.routine_people, args.crisis_people, args.runs) < 1:
        parser.error("rates, durations, --backlog, the people and --runs must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def measure() -> None:
        extra = dict(setting.split("=", 1) for setting in args.service_setting)
        env = {name: {**NOTIFICATIONS_ENV.get(name, {}), **(HOPS_ENV if args.hops else {}), **extra}
               for name in ("intake", "careplan", "notifications")}
        with running_services(args, env) as (isolation, services):
            runs = asyncio.run(run_benchmark(args, isolation, services))
            print_summary(runs, args)

    return run_benchmark_process(measure, failures=(httpx.HTTPError,))


if __name__ == "__main__":
    sys.exit(main())
