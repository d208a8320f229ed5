"""What a run measured, and the summary of all runs against the targets."""

from __future__ import annotations

import argparse
import math
import os
import statistics
from dataclasses import dataclass

from bench.measure import LatencyResult, ThroughputResult

RATIO_TARGET = 0.5
P99_TARGET_MS = 100.0


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least p% of the values at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class RunResult:
    raw_rows_per_second: float
    throughput: ThroughputResult
    latency: LatencyResult
    http_retries: int  # POSTs retried after a transport error (see IntakeClients.post)

    @property
    def ratio(self) -> float:
        return self.throughput.rate / self.raw_rows_per_second

    @property
    def p50(self) -> float:
        return percentile(self.latency.end_to_end_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latency.end_to_end_ms, 99)


def describe_run(label: str, run: RunResult) -> str:
    t, lat = run.throughput, run.latency
    lines = [
        f"{label}:",
        f"  raw PostgreSQL, 1 row/transaction, 1 connection : {run.raw_rows_per_second:8.0f} rows/s",
        f"  throughput: {t.screenings} screenings stored by careplan in {t.seconds:.2f}s = {t.rate:.0f}/s "
        f"(HTTP alone: {t.screenings / t.http_seconds:.0f}/s; failed POSTs: {t.failed})",
        f"  ratio to raw: {run.ratio:.3f}   (HTTP POSTs retried after a transport error this run: {run.http_retries})",
        f"  CPU per screening in the throughput phase (ms; {os.cpu_count()} cores give "
        f"{(os.cpu_count() or 1) * 1000 / t.rate:.1f} ms per screening at this rate):",
        "    " + ", ".join(f"{name} {seconds * 1000 / t.screenings:.1f}" for name, seconds in t.cpu_seconds.items()),
        f"  latency, {lat.requests} requests open-loop (failed: {lat.failed}, generator max lag "
        f"{lat.max_send_lag_ms:.1f} ms); CPU per screening (ms; {(os.cpu_count() or 1) * 1000 / lat.rate:.1f} "
        f"available at {lat.rate:g}/s):",
        "    " + ", ".join(f"{name} {seconds * 1000 / lat.requests:.1f}" for name, seconds in lat.cpu_seconds.items()),
    ]
    for name, values in (("sent -> careplan stored", lat.end_to_end_ms),
                         ("accepted -> careplan stored", lat.accepted_to_stored_ms),
                         ("HTTP sent -> accepted", lat.http_ms)):
        lines.append(f"    {name:28s} p50 {percentile(values, 50):8.1f}  p99 {percentile(values, 99):8.1f}  "
                     f"max {max(values, default=math.nan):8.1f} ms")
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_summary(runs: list[RunResult], args: argparse.Namespace) -> None:
    header = (f"{'':8s} {'raw rows/s':>11s} {'e2e scr/s':>10s} {'ratio':>7s} {'p50 ms':>8s} {'p99 ms':>8s} "
              f"{'max ms':>8s} {'acc->st p99':>12s}")
    print()
    print(f"Summary: --screenings {args.screenings} --rate {args.rate:g} --latency-seconds {args.latency_seconds:g} "
          f"--runs {args.runs}")
    print(header)
    print("-" * len(header))
    for i, run in enumerate(runs, 1):
        print(f"{'run ' + str(i):8s} {run.raw_rows_per_second:11.0f} {run.throughput.rate:10.1f} {run.ratio:7.3f} "
              f"{run.p50:8.1f} {run.p99:8.1f} {max(run.latency.end_to_end_ms, default=math.nan):8.1f} "
              f"{percentile(run.latency.accepted_to_stored_ms, 99):12.1f}")
    print("-" * len(header))
    med = statistics.median
    ratio, p99 = med(r.ratio for r in runs), med(r.p99 for r in runs)
    print(f"{'median':8s} {med(r.raw_rows_per_second for r in runs):11.0f} {med(r.throughput.rate for r in runs):10.1f} "
          f"{ratio:7.3f} {med(r.p50 for r in runs):8.1f} {p99:8.1f} "
          f"{med(max(r.latency.end_to_end_ms, default=math.nan) for r in runs):8.1f} "
          f"{med(percentile(r.latency.accepted_to_stored_ms, 99) for r in runs):12.1f}")
    print()
    print(f"target: ratio >= {RATIO_TARGET}          median {ratio:.3f}   {verdict(ratio >= RATIO_TARGET)}")
    print(f"target: p99 < {P99_TARGET_MS:.0f} ms at {args.rate:g}/s   median {p99:.1f} ms   "
          f"{verdict(p99 < P99_TARGET_MS)}")
