"""The three measurements of a run: raw PostgreSQL, throughput and open-loop latency."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import httpx
from tqdm import tqdm

from bench.cpu import CpuMeter
from bench.load import IntakeClients, screening_body
from bench.stack import BENCH_AGENCY, BenchError, ServiceGroup
from bench.watcher import CareplanWatcher

# Careplan's Timeline for a person: version 1 = created, 2 = registration entry (both stored in
# one transaction), then one entry per screening (intake's screening_completed: answers and
# score): 3 = the first screening, 4 = the second, ... A screening counts as applied when its
# entry is stored. (Screenings here never show suicide risk, which would add an urgent event.)
# Before screening_completed, each screening was two events (answers, then score): stride 2.
REGISTERED_VERSION = 2
FIRST_SCREENING_VERSION = 3
EVENTS_PER_SCREENING = 1

THROUGHPUT_CONCURRENCY = 32
THROUGHPUT_PEOPLE = 96  # a multiple of the concurrency: each worker owns 3 people (see below)
REGISTRATION_CONCURRENCY = 32
RAW_BASELINE_SECONDS = 3.0

# Progress bars only on a terminal: redirected to a file, each refresh would add a line.
NO_TTY_BARS = None  # tqdm's "disable when not a TTY"


# --------------------------------------------------------------------------------------------
# Raw PostgreSQL baseline


async def measure_raw_insert_rate(database_url: str, seconds: float = RAW_BASELINE_SECONDS) -> float:
    """Rows/s that one connection commits, one event-sized row per transaction.

    The table mirrors an eventsourcing events table (primary key on id+version, a bigserial with a
    unique index); the row is the size of a stored careplan event.
    """
    connection = await asyncpg.connect(database_url, timeout=10)
    try:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw_events ("
            " originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text NOT NULL,"
            " state bytea, notification_id bigserial,"
            " PRIMARY KEY (originator_id, originator_version))"
        )
        await connection.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS bench_raw_events_notification_id ON bench_raw_events (notification_id)"
        )
        insert = await connection.prepare(
            "INSERT INTO bench_raw_events (originator_id, originator_version, topic, state) VALUES ($1, $2, $3, $4)"
        )
        topic = "services.careplan.domain.timeline:Timeline.EntryAdded"
        state = os.urandom(300)
        originator = uuid.uuid4()
        rows = 0
        started = time.perf_counter()
        deadline = started + seconds
        # No explicit transaction: each INSERT in autocommit mode is one transaction, one commit.
        while time.perf_counter() < deadline:
            rows += 1
            await insert.fetch(originator, rows, topic, state)
        return rows / (time.perf_counter() - started)
    finally:
        await connection.close()


# --------------------------------------------------------------------------------------------
# Throughput and latency


async def register_people(intake: IntakeClients, watcher: CareplanWatcher, services: ServiceGroup,
                          count: int, label: str) -> list[UUID]:
    """Register `count` new people and wait until careplan has applied every registration."""
    token = uuid.uuid4().hex[:8]
    people: list[UUID] = [None] * count  # type: ignore[list-item]
    next_index = iter(range(count))
    with tqdm(total=count, desc=f"{label}: register", unit="person", leave=False, disable=NO_TTY_BARS) as bar:
        async def worker() -> None:
            for i in next_index:
                response = await intake.post("/people", {
                    "agency": BENCH_AGENCY, "agency_person_id": f"{token}-{i}", "preferred_name": f"Bench {i}",
                })
                if response.status_code not in (200, 201):  # 200: already registered (a retry)
                    services.check_alive()
                    raise BenchError(f"registering a person: HTTP {response.status_code} {response.text[:300]}")
                people[i] = UUID(response.json()["person_id"])
                bar.update(1)

        await asyncio.gather(*(worker() for _ in range(min(REGISTRATION_CONCURRENCY, count))))
    tally = watcher.track(people, REGISTERED_VERSION)
    try:
        with tqdm(total=count, desc=f"{label}: careplan applies registrations", unit="person", leave=False, disable=NO_TTY_BARS) as bar:
            await watcher.wait_for_count(tally, count, f"{label} registrations", services, bar)
    finally:
        watcher.untrack(tally)
    return people


@dataclass(frozen=True)
class ThroughputResult:
    screenings: int
    seconds: float
    http_seconds: float  # until the last HTTP response
    failed: int
    cpu_seconds: dict[str, float]  # per process, "other" and "machine", over the phase

    @property
    def rate(self) -> float:
        return self.screenings / self.seconds


async def measure_throughput(intake: IntakeClients, watcher: CareplanWatcher, services: ServiceGroup,
                             cpu: CpuMeter, screenings: int, label: str) -> ThroughputResult:
    """Screenings/s from the first POST until careplan has stored the last of them."""
    people = await register_people(intake, watcher, services, THROUGHPUT_PEOPLE, label)
    # Worker w owns people w, w+32, w+64: one person's screenings are never concurrent, since
    # two concurrent saves of one aggregate conflict (the second would fail, not queue).
    owned = [people[w::THROUGHPUT_CONCURRENCY] for w in range(THROUGHPUT_CONCURRENCY)]
    intake.prepare(THROUGHPUT_CONCURRENCY)
    tickets = iter(range(screenings))
    failures: list[str] = []
    rng = random.Random(1)
    tally = watcher.track(people, FIRST_SCREENING_VERSION, EVENTS_PER_SCREENING)
    try:
        with tqdm(total=screenings, desc=f"{label}: throughput (stored by careplan)", unit="screening",
                  leave=False, disable=NO_TTY_BARS) as bar:
            async def worker(mine: list[UUID]) -> None:
                for n, _ in enumerate(tickets):
                    person = mine[n % len(mine)]
                    try:
                        response = await intake.post(f"/people/{person}/screenings", screening_body(rng))
                    except httpx.HTTPError as error:
                        services.check_alive()
                        failures.append(f"{type(error).__name__}: {error}")
                        continue
                    if response.status_code not in (200, 201):  # 200: recorded by a retried POST
                        failures.append(f"HTTP {response.status_code} {response.text[:200]}")

            cpu_before = cpu.snapshot()
            started = time.perf_counter()
            sending = asyncio.gather(*(worker(mine) for mine in owned))
            # Show careplan's progress while the requests go out.
            watching = asyncio.create_task(watcher.wait_for_count(tally, screenings, "throughput screenings",
                                                                  services, bar))
            try:
                await sending
                http_seconds = time.perf_counter() - started
                if failures:
                    watching.cancel()
                    accepted = screenings - len(failures)
                    print(f"\n{len(failures)} screening POSTs failed, e.g. {failures[0]}", file=sys.stderr)
                    await watcher.wait_for_count(tally, accepted, "throughput screenings", services, bar)
                else:
                    await watching
            finally:
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError, BenchError):
                    await watching
        cpu_used = CpuMeter.used(cpu_before, cpu.snapshot())
        return ThroughputResult(tally.count, tally.last_stored_at - started, http_seconds, len(failures), cpu_used)
    finally:
        watcher.untrack(tally)


@dataclass
class Timing:
    scheduled: float
    sent: float = math.nan
    accepted: float = math.nan  # response received
    error: str | None = None


@dataclass(frozen=True)
class LatencyResult:
    requests: int
    rate: float                      # requests/s sent
    end_to_end_ms: list[float]       # careplan stored - scheduled send time
    accepted_to_stored_ms: list[float]
    http_ms: list[float]             # sent - response received
    max_send_lag_ms: float           # how late the generator was against its schedule
    failed: int
    cpu_seconds: dict[str, float]    # per process, "other" and "machine", sending until all stored


async def measure_latency(intake: IntakeClients, watcher: CareplanWatcher, services: ServiceGroup,
                          cpu: CpuMeter, rate: float, seconds: float, label: str) -> LatencyResult:
    """Open loop at `rate`/s: request i goes at t0 + i/rate whatever happened to earlier ones."""
    count = max(1, round(rate * seconds))
    people = await register_people(intake, watcher, services, count, label)
    # Enough for a second of requests in flight; more are created if responses get slower.
    intake.prepare(min(count, math.ceil(rate)))
    rng = random.Random(2)
    timings = {person: Timing(scheduled=math.nan) for person in people}
    tally = watcher.track(people, FIRST_SCREENING_VERSION, EVENTS_PER_SCREENING)

    async def send(person: UUID) -> None:
        timing = timings[person]
        timing.sent = time.perf_counter()
        try:
            response = await intake.post(f"/people/{person}/screenings", screening_body(rng))
        except httpx.HTTPError as error:
            timing.error = f"{type(error).__name__}: {error}"
            return
        timing.accepted = time.perf_counter()
        if response.status_code not in (200, 201):  # 200: recorded by a retried POST
            timing.error = f"HTTP {response.status_code} {response.text[:200]}"

    try:
        in_flight: list[asyncio.Task[None]] = []
        with tqdm(total=count, desc=f"{label}: latency @ {rate:g}/s (sent)", unit="req", leave=False, disable=NO_TTY_BARS) as bar:
            cpu_before = cpu.snapshot()
            t0 = time.perf_counter() + 0.05
            for i, person in enumerate(people):
                timings[person].scheduled = t0 + i / rate
                delay = timings[person].scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                in_flight.append(asyncio.create_task(send(person)))
                bar.update(1)
                if i % 100 == 0:
                    services.check_alive()
            await asyncio.gather(*in_flight)
        failed = [t for t in timings.values() if t.error]
        if failed:
            services.check_alive()
            print(f"\n{len(failed)} screening POSTs failed, e.g. {failed[0].error}", file=sys.stderr)
        with tqdm(total=count - len(failed), desc=f"{label}: latency (stored by careplan)", unit="screening",
                  leave=False, disable=NO_TTY_BARS) as bar:
            await watcher.wait_for_count(tally, count - len(failed), "latency screenings", services, bar)
        cpu_used = CpuMeter.used(cpu_before, cpu.snapshot())
    finally:
        watcher.untrack(tally)

    end_to_end, accepted_to_stored, http = [], [], []
    for person, timing in timings.items():
        if timing.error:
            continue
        stored = tally.first_stored_at[person]
        end_to_end.append((stored - timing.scheduled) * 1000)
        accepted_to_stored.append((stored - timing.accepted) * 1000)
        http.append((timing.accepted - timing.sent) * 1000)
    max_lag = max((t.sent - t.scheduled) * 1000 for t in timings.values())
    return LatencyResult(count, rate, end_to_end, accepted_to_stored, http, max_lag, len(failed), cpu_used)
