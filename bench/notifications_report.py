"""What a run of bench/notifications.py measured, and the summary of all runs against the target."""

from __future__ import annotations

import argparse
import math
import os
import statistics
from dataclasses import dataclass

from bench.baseline import BaselineResult
from bench.crisis import PhaseResult
from bench.report import P99_TARGET_MS, percentile, verdict

CHANNEL_NAMES = {"fast": "crisis -> webhook (fast receiver)", "slow": "crisis -> webhook (slow receiver, urgent)",
                 "sse": "crisis -> SSE event"}


@dataclass(frozen=True)
class NotificationRun:
    baseline: BaselineResult
    traffic: PhaseResult   # phase 1
    backlog: PhaseResult   # phase 2

    def measured(self) -> dict[str, list[float]]:
        """Each headline measurement: (phase, channel) -> latencies in ms."""
        return {f"{phase_key}:{channel}": phase.latencies_ms(channel)
                for phase_key, phase in (("1", self.traffic), ("2", self.backlog)) for channel in phase.channels}


def _line(name: str, values: list[float], baseline: BaselineResult | None = None) -> str:
    p50, p99 = percentile(values, 50), percentile(values, 99)
    text = f"    {name:42s} p50 {p50:7.1f}  p99 {p99:7.1f}  max {max(values, default=math.nan):7.1f} ms"
    if baseline is not None:
        text += (f"   x{p50 / percentile(baseline.total_ms, 50):5.1f} / x{p99 / percentile(baseline.total_ms, 99):5.1f}"
                 " the baseline")
    return text


def _cpu(phase: PhaseResult) -> str:
    used = phase.cpu_seconds
    cores = os.cpu_count() or 1
    busy = used["machine"] / (phase.seconds * cores) * 100
    parts = ", ".join(f"{name} {used[name]:.1f}" for name in ("intake", "careplan", "notifications", "benchmark",
                                                            "postgres", "rabbitmq", "other"))
    return f"    CPU s over {phase.seconds:.1f}s: {parts}; machine {busy:.0f}% busy of {cores} cores"


def describe_run(label: str, run: NotificationRun, args: argparse.Namespace) -> str:
    b, t, g = run.baseline, run.traffic, run.backlog
    lines = [
        f"{label}:",
        f"  raw baseline, {len(b.total_ms)} samples in sequence (publish+confirm -> consume -> commit -> signed POST):",
        _line("publish -> received by the receiver", b.total_ms),
        f"      of which, at p50: broker {percentile(b.broker_ms, 50):.1f}, commit {percentile(b.commit_ms, 50):.1f}, "
        f"POST {percentile(b.post_ms, 50):.1f} ms",
        f"  phase 1: {len(t.crises)} crises at {args.crisis_rate:g}/s amid routine screenings at {args.rate:g}/s "
        f"({t.routine_sent} sent, {t.routine_failed} failed; generator max lag {t.max_send_lag_ms:.1f} ms; "
        f"crises refused: {sum(1 for c in t.crises if c.failed)})",
    ]
    lines += [_line(CHANNEL_NAMES[c], t.latencies_ms(c), b) + (f"  MISSING {t.missing(c)}" if t.missing(c) else "")
              for c in t.channels]
    lines.append(_cpu(t))
    lines += [f"    {note}" for note in t.notes]
    lines.append(f"  phase 2: {len(g.crises)} crises at {args.crisis_rate:g}/s behind {g.routine_sent} routine "
                 f"deliveries queued for a slow receiver (crises refused: {sum(1 for c in g.crises if c.failed)})")
    lines += [_line(CHANNEL_NAMES[c], g.latencies_ms(c), b) + (f"  MISSING {g.missing(c)}" if g.missing(c) else "")
              for c in g.channels]
    lines.append(_cpu(g))
    lines += [f"    {note}" for note in g.notes]
    return "\n".join(lines)


def print_summary(runs: list[NotificationRun], args: argparse.Namespace) -> None:
    keys = list(runs[0].measured())
    heads = {"1:fast": "1 hook", "1:sse": "1 sse", "2:fast": "2 fast", "2:slow": "2 slow", "2:sse": "2 sse"}
    header = f"{'':8s} {'base p50':>8s} {'base p99':>8s} " + " ".join(
        f"{heads[k] + ' p50':>11s} {heads[k] + ' p99':>11s}" for k in keys)
    print()
    print(f"Summary (ms from intake's 201 for the crisis contact): --rate {args.rate:g} --crisis-rate "
          f"{args.crisis_rate:g} --seconds {args.seconds:g} --backlog {args.backlog} --backlog-seconds "
          f"{args.backlog_seconds:g} --runs {args.runs}")
    print("  1 = under routine traffic, 2 = behind the backlog; hook/fast = the fast receiver's webhook, "
          "slow = the slow receiver's urgent lane, sse = the live stream")
    print(header)
    print("-" * len(header))

    for i, run in enumerate(runs, 1):
        measured = run.measured()
        print(f"{'run ' + str(i):8s} {percentile(run.baseline.total_ms, 50):8.1f} {percentile(run.baseline.total_ms, 99):8.1f} "
              + " ".join(f"{percentile(measured[k], 50):11.1f} {percentile(measured[k], 99):11.1f}" for k in keys))
    print("-" * len(header))
    med = statistics.median
    base50 = med(percentile(r.baseline.total_ms, 50) for r in runs)
    base99 = med(percentile(r.baseline.total_ms, 99) for r in runs)
    p50s = {k: med(percentile(r.measured()[k], 50) for r in runs) for k in keys}
    p99s = {k: med(percentile(r.measured()[k], 99) for r in runs) for k in keys}
    print(f"{'median':8s} {base50:8.1f} {base99:8.1f} " + " ".join(f"{p50s[k]:11.1f} {p99s[k]:11.1f}" for k in keys))
    print(f"{'/ base':8s} {'':8s} {'':8s} " + " ".join(f"{'x' + format(p50s[k] / base50, '.1f'):>11s} "
                                                     f"{'x' + format(p99s[k] / base99, '.1f'):>11s}" for k in keys))
    print()
    for k in keys:
        phase, channel = k.split(":")
        where = "under routine traffic" if phase == "1" else "behind the backlog"
        print(f"target: p99 < {P99_TARGET_MS:.0f} ms, {CHANNEL_NAMES[channel]:42s} {where:22s} "
              f"median p99 {p99s[k]:7.1f} ms   {verdict(p99s[k] < P99_TARGET_MS)}")
