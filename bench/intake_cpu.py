"""Where intake's and careplan's CPU goes while routine screenings flow (issue 16).

    .venv/bin/python bench/intake_cpu.py [--rate 100] [--seconds 15] [--profile] [--count] [--sample]
                                         [--py-spy PATH [--py-spy-options "--nonblocking --gil"]]
                                         [--traced [--sampled 0.1] [--count-spans]] [--services intake,careplan,notifications]

Sets up as bench/notifications_cpu.py does (bench/notifications.py's caseload: `--people` people
with `casey` on each team, her webhook subscription and live stream), then sends positive
screenings open loop at `--rate`/s for `--seconds` and waits until every routine notice has
reached the receiver and the stream, so that intake's request, save and relay, careplan's
consumption and picture, and notifications' delivery of each screening are all inside the window.

Prints, per service, CPU seconds (/proc: user + system) per 1,000 screenings, split between the
main thread (the event loop) and the other threads (the pools: eventsourcing's saves, the group
commit, the relay's log tailing). `--sample` runs the stack sampler (bench/sampling/sitecustomize.py)
in intake and careplan (it sees the event loop only where it lets go of the GIL), `--py-spy PATH`
records them with py-spy from outside (`--gil`: the thread holding the GIL, which also counts time
descheduled while holding it), `--profile` runs cProfile with each thread's CPU clock on their
event loops and pool work items over the load window (deterministic; it doubles the profiled
code's CPU, so read its shares), `--count` counts their pool hops and database statements.
`--traced` sets the OTEL_* variables for every service (bench/observability.py's "on": OTLP to a
local sink, parent-based ratio sampler at `--sampled`), so tracing's share can be profiled.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pstats
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]  # see bench/backbone.py
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.cpu import CpuMeter, thread_cpu, user_system_seconds  # noqa: E402
from bench.observability import otlp_sink, print_span_counts, tracing_env  # noqa: E402
from bench.notifications_cpu import read_samples, report_samples  # noqa: E402
from bench.routine_load import routine_load  # noqa: E402
from bench.stack import add_server_options, prepare_benchmark_process, running_services  # noqa: E402

MEASURED = ("intake", "careplan")


async def measure(args: argparse.Namespace, services, sample_files: dict[str, Path],
                  count_files: dict[str, Path], profile_files: dict[str, Path]) -> None:
    pids = {name: services.by_name[name].pid for name in ("intake", "careplan", "notifications")}
    cpu = CpuMeter(services)
    async with routine_load(services, args.people, args.rate) as load:
        snapshot = cpu.snapshot()
        threads_before = {name: thread_cpu(pid) for name, pid in pids.items()}
        modes_before = {name: user_system_seconds(pid) for name, pid in pids.items()}
        samples_before = {name: read_samples(path) for name, path in sample_files.items()}
        counts_before = {name: read_samples(path) for name, path in count_files.items()}
        spies = [subprocess.Popen([args.py_spy, "record", "--pid", str(pids[name]), *args.py_spy_options.split(),
                                   "--rate", "200", "--format", "raw", "--duration", str(int(args.seconds) + 2),
                                   "--output", str(Path(tempfile.gettempdir()) / f"{name}-py-spy.txt")],
                                  stdout=subprocess.DEVNULL,
                                  stderr=open(Path(tempfile.gettempdir()) / f"{name}-py-spy.log", "w"))
                 for name in args.services] if args.py_spy else []
        for name in profile_files:
            os.kill(pids[name], signal.SIGUSR1)
        delivered = await load.send(args.rate, args.seconds)
        sent = delivered.sent
        used = CpuMeter.used(snapshot, cpu.snapshot())
        for name in profile_files:
            os.kill(pids[name], signal.SIGUSR2)
        threads_after = {name: thread_cpu(pid) for name, pid in pids.items()}
        modes_after = {name: user_system_seconds(pid) for name, pid in pids.items()}
        print(f"load: {sent} positive screenings at {args.rate:.0f}/s ({load.senders.routine_failed} failed), "
              f"every notice delivered after {delivered.took:.1f}s; generator max lag "
              f"{load.senders.max_lag * 1000:.0f} ms")
        per_1000 = 1000 / max(sent, 1)
        for name in pids:
            loop = threads_after[name]["loop"] - threads_before[name]["loop"]
            other = threads_after[name]["threads"] - threads_before[name]["threads"]
            print(f"  {name}: {used[name] * per_1000:.2f} CPU s per 1,000 screenings "
                  f"(event loop {loop * per_1000:.2f}, other threads {other * per_1000:.2f}; user "
                  f"{(modes_after[name][0] - modes_before[name][0]) * per_1000:.2f}, system "
                  f"{(modes_after[name][1] - modes_before[name][1]) * per_1000:.2f})")
        print("  per 1,000 screenings: " + ", ".join(f"{name} {seconds * per_1000:.2f}"
                                                     for name, seconds in used.items()))
        for spy in spies:
            spy.wait()
        if spies:
            print(f"  py-spy stacks (raw, for flamegraph.pl): {tempfile.gettempdir()}/<service>-py-spy.txt")
        for name, path in count_files.items():
            counted = read_samples(path) - counts_before[name]
            print(f"  per screening, counted in {name}: " + ", ".join(
                f"{what} {value / max(sent, 1):.2f}" for what, value in sorted(counted.items())))
        for name, path in profile_files.items():
            await asyncio.sleep(1.0)  # the stats written
            print(f"{name}'s event loop (cProfile, {path}):")
            pstats.Stats(str(path)).sort_stats("tottime").print_stats(args.top)
            threads = path.with_name(path.name + ".threads")
            if threads.exists():
                print(f"{name}'s pool threads (cProfile, {threads}):")
                pstats.Stats(str(threads)).sort_stats("cumulative").print_stats(args.top)
        for name, path in sample_files.items():
            print(f"{name}:")
            report_samples(read_samples(path) - samples_before[name], args.top,
                           path.with_name(f"{name}-load-samples.json"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--sample", action="store_true", help="sample intake's and careplan's stacks (costs some CPU)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--count", action="store_true", help="count their pool hops and database statements")
    parser.add_argument("--profile", action="store_true", help="cProfile their event loops (slows them twofold)")
    parser.add_argument("--py-spy", metavar="PATH", help="record intake's and careplan's stacks with this py-spy")
    parser.add_argument("--py-spy-options", default="--nonblocking --gil",
                        help="py-spy record options (--gil: only the thread holding the GIL; --native: C frames)")
    parser.add_argument("--traced", action="store_true", help="trace every service (OTLP to a local sink)")
    parser.add_argument("--sampled", type=float, default=0.1, help="share of traces sampled when --traced")
    parser.add_argument("--count-spans", action="store_true",
                        help="with --traced: the spans exported by service and name (bench/observability.py's; "
                             "with --sampled 1.0, every span the instrumentations make), per screening sent")
    parser.add_argument("--services", type=lambda names: tuple(names.split(",")), default=MEASURED,
                        help="which services --profile, --sample, --count and --py-spy look into "
                             "(comma-separated; intake,careplan by default, notifications too)")
    add_server_options(parser)
    args = parser.parse_args(argv)
    prepare_benchmark_process()
    env: dict[str, dict[str, str]] = {"notifications": {"WEBHOOK_ALLOW_LOOPBACK_HTTP": "true"}}
    directory = Path(tempfile.mkdtemp())
    with otlp_sink() as sink:
        sink.counting = args.count_spans
        if args.traced:
            for name, settings in tracing_env(sink, args.sampled).items():
                env.setdefault(name, {}).update(settings)
        run(args, env, directory)
        if args.traced:
            print(f"  OTLP export requests received: {sink.requests}")
        if args.count_spans:
            print_span_counts(sink, round(args.rate * args.seconds))
    return 0


def run(args: argparse.Namespace, env: dict[str, dict[str, str]], directory: Path) -> None:
    sample_files = {name: directory / f"{name}-samples.json" for name in args.services} if args.sample else {}
    count_files = {name: directory / f"{name}-counts.json" for name in args.services} if args.count else {}
    profile_files = {name: directory / f"{name}.pstats" for name in args.services} if args.profile else {}
    for name in args.services:
        if args.sample or args.count or args.profile:
            env.setdefault(name, {})["PYTHONPATH"] = str(REPO_ROOT / "bench" / "sampling")
        if args.sample:
            env[name]["CARECOORD_SAMPLE_FILE"] = str(sample_files[name])
        if args.count:
            env[name]["CARECOORD_COUNT_FILE"] = str(count_files[name])
        if args.profile:
            env[name]["CARECOORD_PROFILE_FILE"] = str(profile_files[name])
    with running_services(args, env) as (_isolation, services):
        asyncio.run(measure(args, services, sample_files, count_files, profile_files))


if __name__ == "__main__":
    sys.exit(main())
