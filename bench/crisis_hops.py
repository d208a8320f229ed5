"""Where a crisis waits on its way: the services' hop marks (shared/hop_marks.py) per crisis.

With `--hops`, bench/notifications.py runs the services with the `carecoord.hops` logger at
DEBUG: each service then logs, for every crisis (urgent) item, the moment it passes each hop.
Here those marks are read back from the services' logs and put between the benchmark's own times
(intake's 201 read by the client, the arrivals at the receiver and on the stream), and each hop's
wait is given at p50 and p99 over the phase's crises. A crisis's mark of a hop is the first one
for its person after it was sent (the benchmark's people have one crisis at a time in flight).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from bench.arrivals import Crisis
from bench.report import percentile
from shared.hop_marks import person_key

HOPS_ENV = {"LOG_LEVELS": json.dumps({"carecoord.hops": "DEBUG"})}
# The hops in the order a crisis passes them; "accepted" and the arrivals are the benchmark's own.
WEBHOOK_PATH = ("accepted", "relay read", "relay published", "delivered", "committed", "matching", "matched", "signed",
                "fast")
STREAM_PATH = ("committed", "stream read", "stream decided", "stream recorded", "sse")

MARK = re.compile(r"hop ([a-z ]+?) person (\S+) at ([0-9.]+)")  # the message, as text or in JSON
Marks = dict[tuple[str, str], list[float]]  # (person, hop) -> times (seconds since the epoch), sorted


def read_marks(log_paths: Iterable[Path]) -> Marks:
    marks: Marks = {}
    for path in log_paths:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if "carecoord.hops" in line and (found := MARK.search(line)):
                    hop, person, at = found.groups()
                    marks.setdefault((person, hop), []).append(float(at))
    for times in marks.values():
        times.sort()
    return marks


def crisis_times(crisis: Crisis, marks: Marks, wall_offset: float) -> dict[str, float]:
    """Each hop's time for one crisis (seconds since the epoch); hops not seen are left out."""
    sent = crisis.sent + wall_offset
    times = {"accepted": crisis.accepted + wall_offset}
    times.update({channel: at + wall_offset for channel, at in crisis.arrived.items()})
    key = person_key(crisis.person_id)
    for (person, hop), at in marks.items():
        if person == key:
            after = [t for t in at if t >= sent]
            if after:
                times[hop] = after[0]
    return times


def describe_hops(crises: Sequence[Crisis], marks: Marks, channels: Sequence[str],
                  wall_offset: float | None = None) -> list[str]:
    """Lines: per hop, the wait from the hop before (and from intake's 201) at p50 / p99 in ms."""
    offset = time.time() - time.perf_counter() if wall_offset is None else wall_offset
    timed = [crisis_times(c, marks, offset) for c in crises if c.failed is None]
    lines = []
    for title, path in (("webhook", WEBHOOK_PATH), ("stream", STREAM_PATH)):
        if path[-1] not in channels:
            continue
        lines.append(f"    hops to the {title} ({len(timed)} crises): wait since the hop before | since the 201, "
                     "p50 / p99 ms")
        for before, hop in zip(path, path[1:]):
            waits = [(t[hop] - t[before]) * 1000 for t in timed if hop in t and before in t]
            total = [(t[hop] - t["accepted"]) * 1000 for t in timed if hop in t]
            missing = len(timed) - len(waits)
            lines.append(f"      {before:>16s} -> {hop:16s} {_p(waits, 50)} / {_p(waits, 99)}"
                         f"   | {_p(total, 50)} / {_p(total, 99)}" + (f"   ({missing} unmarked)" if missing else ""))
    return lines


def _p(values: list[float], q: float) -> str:
    return f"{percentile(values, q):7.1f}" if values else f"{math.nan:7.1f}"
