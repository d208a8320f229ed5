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
import contextlib
import gc
import json
import math
import os
import random
import secrets
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg

# httpcore tries `import sniffio` on every request; without sniffio installed (anyio 4.x no longer
# needs it) each try searches sys.path on disk. A None entry makes it fail at once, as it would.
sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

import httpx  # noqa: E402 - after the sniffio shortcut
from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # tests.support: the same isolation as the tests

from shared.cipher import new_key  # noqa: E402
from shared.tokens import issue_token  # noqa: E402
from tests.support.processes import ServiceFailed, ServiceProcess, stop_all  # noqa: E402
from tests.support.servers import Isolation, Isolator, Servers  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SERVICE_NAMES = ("intake", "careplan", "notifications")

# Careplan's Timeline for a person: version 1 = created, 2 = registration entry (both stored in
# one transaction), then one entry per screening (intake's screening_completed: answers and
# score): 3 = the first screening, 4 = the second, ... A screening counts as applied when its
# entry is stored. (Screenings here never show suicide risk, which would add an urgent event.)
# Before screening_completed, each screening was two events (answers, then score): stride 2.
REGISTERED_VERSION = 2
FIRST_SCREENING_VERSION = 3
EVENTS_PER_SCREENING = 1
BENCH_AGENCY = "bench"
CAREPLAN_CHANNEL = "careplan_events"  # eventsourcing NOTIFYs on the table name
CAREPLAN_TABLE = "careplan.careplan_events"

THROUGHPUT_CONCURRENCY = 32
THROUGHPUT_PEOPLE = 96  # a multiple of the concurrency: each worker owns 3 people (see below)
HTTP_TIMEOUT_SECONDS = 30.0  # per request
REGISTRATION_CONCURRENCY = 32
RAW_BASELINE_SECONDS = 3.0
READY_TIMEOUT = 60.0      # per service, from process start to /readyz 200
STALL_TIMEOUT = 30.0      # waiting for careplan fails if it stores nothing new for this long
STOP_TIMEOUT = 15.0       # after SIGINT, before SIGKILL

# Progress bars only on a terminal: redirected to a file, each refresh would add a line.
NO_TTY_BARS = None  # tqdm's "disable when not a TTY"

RATIO_TARGET = 0.5
P99_TARGET_MS = 100.0


class BenchError(RuntimeError):
    """A measurement could not be completed; the message says why."""


# --------------------------------------------------------------------------------------------
# Own database and vhost


def release(isolator: Isolator, isolation: Isolation) -> None:
    try:
        isolator.destroy(isolation)
    except Exception as error:  # noqa: BLE001 - say what to drop by hand
        print(f"cleanup incomplete ({error}); drop database {isolation.database} and vhost "
              f"{isolation.vhost} by hand", file=sys.stderr)
    else:
        print(f"dropped database {isolation.database} and vhost {isolation.vhost}")


# --------------------------------------------------------------------------------------------
# The services as subprocesses


# This run's own secrets: HS256 tokens as an agency's identity provider would issue them, and the
# key that encrypts event state at rest (so the benchmark pays for encryption like production).
BENCH_JWT_SECRET = secrets.token_urlsafe(32)
BENCH_CIPHER_KEY = new_key()


def agency_token() -> str:
    return issue_token(BENCH_JWT_SECRET, "HS256", subject="bench-load-generator", role="agency_system",
                       audience="carecoord", issuer="carecoord-dev", lifetime_seconds=4 * 3600, agency=BENCH_AGENCY)


def bench_settings(log_level: str) -> dict[str, str]:
    return {"LOG_LEVEL": log_level, "JWT_DEV_SECRET": BENCH_JWT_SECRET, "EVENT_CIPHER_KEY": BENCH_CIPHER_KEY}


class ServiceGroup:
    def __init__(self, processes: list[ServiceProcess]) -> None:
        self.processes = processes
        self.by_name = {p.name: p for p in processes}

    def check_alive(self) -> None:
        try:
            for process in self.processes:
                process.check_running()
        except ServiceFailed as error:
            raise BenchError(str(error)) from error

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        # They were all launched before: waiting for each in turn costs no more than waiting at once.
        for process in self.processes:
            process.wait_ready(timeout)

    def stop_all(self) -> None:
        stop_all(self.processes, STOP_TIMEOUT)


# --------------------------------------------------------------------------------------------
# Where the CPU goes (Linux /proc): the benchmark shares the machine with what it measures


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 if it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def machine_busy_seconds() -> float:
    """CPU time all cores spent not idle, so far (0 if /proc/stat cannot be read)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def pids_of(command: str) -> list[int]:
    """The pids of processes whose command name is `command` (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command[:15]:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class CpuMeter:
    """CPU seconds used by the benchmark, each service and everything else between two points."""

    def __init__(self, services: ServiceGroup) -> None:
        self._pids = {"benchmark": os.getpid(), **{p.name: p.pid for p in services.processes}}

    def snapshot(self) -> dict[str, float]:
        taken = {name: process_cpu_seconds(pid) for name, pid in self._pids.items()}
        # The servers, where they run on this machine (0 where they don't): every process of theirs
        # alive at the snapshot (a PostgreSQL backend that ended in between is left in "other").
        taken["postgres"] = sum(map(process_cpu_seconds, pids_of("postgres")))
        taken["rabbitmq"] = sum(map(process_cpu_seconds, pids_of("beam.smp")))
        taken["machine"] = machine_busy_seconds()
        return taken

    @staticmethod
    def used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """Per process and server, plus "other" (anything else: the kernel, the hypervisor's steal) and "machine" (all)."""
        used = {name: after[name] - before[name] for name in before}
        used["other"] = used["machine"] - sum(v for k, v in used.items() if k != "machine")
        return used


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
# Watching what careplan stores


@dataclass
class Tally:
    """Careplan events stored for a set of people, at or above a version."""

    person_ids: set[UUID]
    min_version: int
    stride: int = 1  # careplan events per counted thing; the last of each is the one counted
    count: int = 0
    last_stored_at: float = 0.0  # perf_counter when the latest counted event was seen
    first_stored_at: dict[UUID, float] = field(default_factory=dict)  # per person, the first counted event


class CareplanWatcher:
    """Follows careplan's events table: LISTEN on its channel and, on each NOTIFY, reads the rows
    after the last one seen. A row's time is when our SELECT returned it: at most a few ms after
    its commit, so latencies are, if anything, slightly overstated."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._news = asyncio.Event()
        self._tallies: list[Tally] = []
        # Every event seen, per person: version -> when. Lets a tally count events stored before
        # it was created (careplan applies registrations while the later ones are still being sent).
        self._history: dict[UUID, dict[int, float]] = {}
        self._last_id = 0
        self._task: asyncio.Task[None] | None = None
        self._listen: asyncpg.Connection | None = None
        self._query: asyncpg.Connection | None = None
        self.changed = asyncio.Event()

    async def start(self) -> None:
        self._listen = await asyncpg.connect(self._database_url, timeout=10)
        # A custom plan for each read: the generic plan of "notification_id > $1" expects a third
        # of the table and may scan all of it, which cost PostgreSQL more CPU than intake's commits.
        self._query = await asyncpg.connect(self._database_url, timeout=10,
                                            server_settings={"plan_cache_mode": "force_custom_plan"})
        await self._listen.add_listener(CAREPLAN_CHANNEL, lambda *_: self._news.set())
        self._last_id = await self._query.fetchval(f"SELECT coalesce(max(notification_id), 0) FROM {CAREPLAN_TABLE}")
        self._task = asyncio.create_task(self._follow(), name="careplan-watcher")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for connection in (self._listen, self._query):
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()

    def track(self, person_ids: Iterable[UUID], min_version: int, stride: int = 1) -> Tally:
        tally = Tally(set(person_ids), min_version, stride)
        for person_id in tally.person_ids:
            for version, seen_at in sorted(self._history.get(person_id, {}).items()):
                self._count_in(tally, person_id, version, seen_at)
        self._tallies.append(tally)
        return tally

    def untrack(self, tally: Tally) -> None:
        self._tallies.remove(tally)

    def failed(self) -> BaseException | None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            return self._task.exception()
        return None

    async def _follow(self) -> None:
        assert self._query is not None
        select = await self._query.prepare(
            f"SELECT notification_id, originator_id, originator_version FROM {CAREPLAN_TABLE} "
            "WHERE notification_id > $1 ORDER BY notification_id"
        )
        while True:
            # A fallback read every 0.5 s, in case a NOTIFY is ever missed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), timeout=0.5)
            self._news.clear()
            rows = await select.fetch(self._last_id)
            if not rows:
                continue
            seen_at = time.perf_counter()
            # eventsourcing serialises inserts with a table lock, so ids are in commit order and
            # none can appear later below the last one read.
            self._last_id = rows[-1]["notification_id"]
            for row in rows:
                self._count(row["originator_id"], row["originator_version"], seen_at)
            self.changed.set()

    def _count(self, person_id: UUID, version: int, seen_at: float) -> None:
        self._history.setdefault(person_id, {})[version] = seen_at
        for tally in self._tallies:
            self._count_in(tally, person_id, version, seen_at)

    @staticmethod
    def _count_in(tally: Tally, person_id: UUID, version: int, seen_at: float) -> None:
        offset = version - tally.min_version
        if offset >= 0 and offset % tally.stride == tally.stride - 1 and person_id in tally.person_ids:
            tally.count += 1
            tally.last_stored_at = max(tally.last_stored_at, seen_at)
            if offset == tally.stride - 1:
                tally.first_stored_at.setdefault(person_id, seen_at)

    async def wait_for_count(self, tally: Tally, target: int, what: str, services: ServiceGroup,
                             bar: tqdm | None = None, stall_timeout: float = STALL_TIMEOUT) -> None:
        """Until `tally` reaches `target`; fails if careplan stores nothing new for `stall_timeout`."""
        last_progress, last_count = time.monotonic(), tally.count
        while tally.count < target:
            services.check_alive()
            if (error := self.failed()) is not None:
                raise BenchError(f"lost track of careplan's events table: {error!r}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=1.0)
            if bar is not None:
                bar.update(tally.count - bar.n)
            if tally.count != last_count:
                last_progress, last_count = time.monotonic(), tally.count
            elif time.monotonic() - last_progress > stall_timeout:
                raise BenchError(
                    f"waiting for {what}: careplan stored {tally.count}/{target} and nothing new for "
                    f"{stall_timeout:.0f}s; see the service logs ({services.processes[0].log_path.parent})"
                )
        if bar is not None:
            bar.update(tally.count - bar.n)


# --------------------------------------------------------------------------------------------
# Traffic


def screening_body(rng: random.Random) -> dict[str, object]:
    # Item 9 is 0: a suicide-risk answer would add an urgent event and change the event count.
    answers = {f"item{i}": rng.randint(0, 3) for i in range(1, 9)}
    return {"instrument": "PHQ-9", "answers": {**answers, "item9": 0}}


class HttpResponse:
    """What the benchmark reads of a response: status, text, JSON."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class KeepAliveConnection:
    """One HTTP/1.1 keep-alive connection that POSTs JSON: the load generator's client.

    Why not httpx: it cost the benchmark ~1.5-2 ms of CPU per request (its pool checks, request
    and response models), on the same two cores as the services it measures; this writes the
    request in one call and reads a Content-Length response, about a tenth of that.
    """

    def __init__(self, host: str, port: int, authorization: str) -> None:
        self._host, self._port = host, port
        self._head = f"Host: {host}:{port}\r\nAuthorization: {authorization}\r\nContent-Type: application/json\r\n"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> HttpResponse:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._writer.write(f"POST {path} HTTP/1.1\r\n{self._head}{extra}Content-Length: {len(body)}\r\n\r\n"
                           .encode() + body)
        try:
            async with asyncio.timeout(HTTP_TIMEOUT_SECONDS):
                head = await self._reader.readuntil(b"\r\n\r\n")
                status_line, *header_lines = head.decode("latin-1").split("\r\n")
                fields = {k.strip().lower(): v.strip()
                          for k, _, v in (line.partition(":") for line in header_lines if line)}
                content = await self._reader.readexactly(int(fields.get("content-length", "0")))
        except TimeoutError as error:
            self.close()
            raise httpx.ReadTimeout(f"no response in {HTTP_TIMEOUT_SECONDS} s") from error
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            self.close()
            raise httpx.ReadError(f"{type(error).__name__}: {error}") from error
        if fields.get("connection", "").lower() == "close":
            self.close()
        return HttpResponse(int(status_line.split(" ", 2)[1]), content)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class IntakeClients:
    """Connections of their own, one lent to each request in flight, created on demand (so the
    open-loop generator never waits for a connection)."""

    def __init__(self, base_url: str) -> None:
        address = urlsplit(base_url)
        self._host, self._port = address.hostname or "127.0.0.1", address.port or 80
        self._idle: list[KeepAliveConnection] = []
        self._all: list[KeepAliveConnection] = []
        self._authorization = f"Bearer {agency_token()}"
        self.retries = 0

    def prepare(self, count: int) -> None:
        """Create connections ahead, so that a phase does not pay for creating them."""
        while len(self._all) < count:
            self._idle.append(self._new_connection())

    async def post(self, path: str, body: dict[str, object]) -> HttpResponse:
        """POST once, with an Idempotency-Key so that one retry after a transport error is safe.

        Why a retry: uvicorn closes keep-alive connections idle for 5 s, and a request that races
        that close fails although intake never saw it.
        """
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        content = json.dumps(body).encode()
        connection = self._idle.pop() if self._idle else self._new_connection()
        try:
            try:
                return await connection.post(path, content, headers)
            except httpx.ReadError:
                self.retries += 1
                return await connection.post(path, content, headers)
        finally:
            self._idle.append(connection)

    def _new_connection(self) -> KeepAliveConnection:
        connection = KeepAliveConnection(self._host, self._port, self._authorization)
        self._all.append(connection)
        return connection

    async def aclose(self) -> None:
        for connection in self._all:
            connection.close()


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


# --------------------------------------------------------------------------------------------
# Results


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


# --------------------------------------------------------------------------------------------
# Main


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
    parser.add_argument("--postgres-url", default=os.environ.get(
        "CARECOORD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="an existing database to connect to while creating and dropping the benchmark's own")
    parser.add_argument("--amqp-url", default=os.environ.get("CARECOORD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
    parser.add_argument("--rabbitmq-api", default=os.environ.get(
        "CARECOORD_TEST_RABBITMQ_API", "http://guest:guest@127.0.0.1:15672/api"))
    parser.add_argument("--log-level", default="INFO", help="the services' LOG_LEVEL")
    args = parser.parse_args(argv)
    if args.screenings < 1 or args.rate <= 0 or args.latency_seconds <= 0 or args.runs < 1:
        parser.error("--screenings, --rate, --latency-seconds and --runs must be positive")
    return args


def raise_keyboard_interrupt_on_sigterm() -> None:
    # So that `kill <pid>` cleans up like Ctrl-C does.
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_keyboard_interrupt_on_sigterm()
    # The benchmark's own full garbage collections (up to 135 ms by its third run, measured with
    # gc.callbacks) stalled the load generator and the careplan watcher, and were counted as the
    # system's latency. Tuned as the services are (shared/runtime.py: quiet_garbage_collector).
    gc.freeze()
    gc.set_threshold(10_000, 10, 100)
    # A database and vhost of its own (bench_<hex>, bench-<hex>), made as each test's are.
    isolator = Isolator(Servers(args.postgres_url, args.amqp_url, args.rabbitmq_api), prefix="bench")
    isolation = isolator.create()
    print(f"database {isolation.database}, vhost {isolation.vhost}")
    log_dir = RESULTS_DIR / f"{datetime.now():%Y%m%d-%H%M%S}-{isolation.database}"
    services: ServiceGroup | None = None
    status = 1
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        processes: list[ServiceProcess] = []
        services = ServiceGroup(processes)
        for name in SERVICE_NAMES:
            processes.append(ServiceProcess(name, isolation, log_dir / f"{name}.log", settings=bench_settings(args.log_level)))
            services.by_name[name] = processes[-1]
            processes[-1].launch()
        print("waiting for the services' /readyz ...")
        services.wait_ready()
        print("  " + ", ".join(f"{p.name} pid {p.pid} on :{p.port}" for p in services.processes))
        runs = asyncio.run(run_benchmark(args, isolation, services))
        print_summary(runs, args)
        status = 0
    except (BenchError, ServiceFailed) as error:
        print(f"\nbenchmark failed: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        status = 130
    finally:
        # A second Ctrl-C must not cut the cleanup short and leave a database or processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if services is not None:
            print("stopping the services ...")
            services.stop_all()
            print(f"service logs: {log_dir}/")
        release(isolator, isolation)
    return status


if __name__ == "__main__":
    sys.exit(main())
