"""Where notifications' CPU goes while routine notices flow (issue 16's last target).

    .venv/bin/python bench/notifications_cpu.py [--rate 100] [--seconds 20] [--idle-seconds 10] [--sample]

Starts the three services on a database and vhost of its own (bench/stack.py), forms the care
teams of `--people` people with `casey` on each, subscribes her (a fast receiver) and opens her
live stream, as bench/notifications.py does. Then measures notifications' CPU seconds
(/proc: user + system) over two windows:

  1. idle: `--idle-seconds` with nothing sent (what notifications costs doing nothing);
  2. load: positive screenings open loop at `--rate`/s for `--seconds` (one routine notice each,
     delivered to the webhook and the stream), until every one has reached the receiver.

CPU per 1,000 notices is the figure to compare between versions: unlike a latency it does not
depend much on what the neighbours do with the cores. The split per thread (the event loop vs
the pool's threads) and, with `--sample`, a stack sampler inside notifications
(bench/sampling/sitecustomize.py) say where it goes.
"""

from __future__ import annotations

import argparse
import asyncio

import asyncpg
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]  # see bench/backbone.py
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.cpu import CpuMeter, process_cpu_seconds, thread_cpu  # noqa: E402
from bench.routine_load import routine_load  # noqa: E402
from bench.stack import add_server_options, prepare_benchmark_process, running_services  # noqa: E402


async def table_stats(database_url: str) -> dict[str, tuple[int, int]]:
    """Per table of notifications: index scans (about one per query reading it) and rows inserted.
    Counted by PostgreSQL, so unlike CPU seconds they do not depend on the neighbours."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT relname, idx_scan, n_tup_ins FROM pg_stat_user_tables "
                                      "WHERE schemaname = 'notifications'")
    finally:
        await connection.close()
    return {row["relname"]: (row["idx_scan"] or 0, row["n_tup_ins"] or 0) for row in rows}


def read_samples(path: Path) -> Counter:
    try:
        return Counter(json.loads(path.read_text()))
    except (OSError, ValueError):
        return Counter()


def summarise(samples: Counter, top: int = 30) -> str:
    busy = Counter({k: v for k, v in samples.items() if v > 0})
    total = sum(busy.values()) or 1
    inclusive: Counter = Counter()
    inner: Counter = Counter()
    for stack, count in busy.items():
        frames = stack.split(";")
        names = {frame.split(" (")[0] + " (" + frame.split(" (")[1].split(":")[0] + ")" for frame in frames[1:]}
        for name in names:
            inclusive[name] += count
        inner[frames[-1].split(":")[0] + ")"] += count
    lines = [f"  CPU seen by the sampler: {total / 1e6:.2f} s", "  inclusive (share of it):"]
    lines += [f"    {100 * c / total:5.1f}%  {name}" for name, c in inclusive.most_common(top)]
    lines += ["  innermost:"]
    lines += [f"    {100 * c / total:5.1f}%  {name}" for name, c in inner.most_common(top)]
    return "\n".join(lines)


def report_samples(samples: Counter, top: int, kept: Path) -> None:
    """Print where the sampled CPU went and keep the stacks for a flame graph."""
    print(summarise(samples, top))
    kept.write_text(json.dumps(samples))
    print(f"  stacks (CPU microseconds each): {kept}")


async def measure(args: argparse.Namespace, isolation, services, sample_file: Path | None,
                  count_file: Path | None = None) -> None:
    pid = services.by_name["notifications"].pid
    cpu = CpuMeter(services)
    async with routine_load(services, args.people, args.rate) as load:
        before, threads_before = process_cpu_seconds(pid), thread_cpu(pid)
        samples_before = read_samples(sample_file) if sample_file else Counter()
        await asyncio.sleep(args.idle_seconds)
        idle, threads_idle = process_cpu_seconds(pid) - before, thread_cpu(pid)
        print(f"idle {args.idle_seconds:.0f}s: notifications {idle:.2f} CPU s "
              f"({1000 * idle / args.idle_seconds:.1f} ms/s; event loop "
              f"{threads_idle['loop'] - threads_before['loop']:.2f}, other threads "
              f"{threads_idle['threads'] - threads_before['threads']:.2f})")
        if sample_file:
            print(summarise(read_samples(sample_file) - samples_before, 12))

        tables_before = await table_stats(isolation.database_url)
        counts_before = read_samples(count_file) if count_file else Counter()
        snapshot, threads_before = cpu.snapshot(), thread_cpu(pid)
        samples_before = read_samples(sample_file) if sample_file else Counter()
        delivered = await load.send(args.rate, args.seconds)
        sent, took = delivered.sent, delivered.took
        used, threads_after = CpuMeter.used(snapshot, cpu.snapshot()), thread_cpu(pid)
        print(f"load: {sent} routine notices at {args.rate:.0f}/s, all delivered after {took:.1f}s "
              f"(webhook {delivered.by_webhook}, stream {delivered.by_stream}); "
              f"generator max lag {load.senders.max_lag * 1000:.0f} ms")
        per_1000 = 1000 / max(sent, 1)
        print(f"  notifications {used['notifications']:.2f} CPU s = {used['notifications'] * per_1000:.2f} s per "
              f"1,000 notices (event loop {(threads_after['loop'] - threads_before['loop']) * per_1000:.2f}, "
              f"other threads {(threads_after['threads'] - threads_before['threads']) * per_1000:.2f}); "
              f"of which idle-rate {idle / args.idle_seconds * took * per_1000:.2f}")
        print("  per 1,000 notices: " + ", ".join(f"{name} {seconds * per_1000:.2f}" for name, seconds in used.items()))
        await asyncio.sleep(11.0)  # PostgreSQL 15 flushes an idle backend's statistics within 10 s
        if count_file:
            counted = read_samples(count_file) - counts_before
            print("  per notice, counted in notifications: " + ", ".join(
                f"{name} {value / max(sent, 1):.2f}" for name, value in sorted(counted.items())))
        tables_after = await table_stats(isolation.database_url)
        print("  per notice, by PostgreSQL: " + ", ".join(
            f"{table} {(after[0] - tables_before.get(table, (0, 0))[0]) / max(sent, 1):.2f} index scans "
            f"{(after[1] - tables_before.get(table, (0, 0))[1]) / max(sent, 1):.2f} rows inserted"
            for table, after in sorted(tables_after.items()) if after != tables_before.get(table)))
        if sample_file:
            report_samples(read_samples(sample_file) - samples_before, args.top,
                           sample_file.with_name("load-samples.json"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--sample", action="store_true", help="sample notifications' stacks (costs it some CPU)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--count", action="store_true",
                        help="count notifications' pool hops and database statements (cheap, exact)")
    add_server_options(parser)
    args = parser.parse_args(argv)
    prepare_benchmark_process()
    env: dict[str, str] = {"WEBHOOK_ALLOW_LOOPBACK_HTTP": "true"}
    sample_file = None
    if args.sample:
        sample_file = Path(tempfile.mkdtemp()) / "notifications-samples.json"
        env |= {"PYTHONPATH": str(REPO_ROOT / "bench" / "sampling"), "CARECOORD_SAMPLE_FILE": str(sample_file)}
    count_file = None
    if args.count:
        count_file = Path(tempfile.mkdtemp()) / "notifications-counts.json"
        env |= {"PYTHONPATH": str(REPO_ROOT / "bench" / "sampling"), "CARECOORD_COUNT_FILE": str(count_file)}
    with running_services(args, {"notifications": env}) as (isolation, services):
        asyncio.run(measure(args, isolation, services, sample_file, count_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
