"""The two measurements of bench/notifications.py: crisis contacts under routine traffic, and
behind a backlog of routine deliveries to a slow receiver.

Everyone is on one care team member's caseload (`casey`, the care coordinator): her webhook
subscriptions and her live stream get every notice of those people, routine and urgent.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from bench.arrivals import Crisis, Expectations, StreamChannel, WebhookChannel
from bench.cpu import CpuMeter
from bench.load import IntakeClients
from bench.stack import BENCH_AGENCY, BenchError, ServiceGroup, staff_token

MEMBER = "casey"
MEMBER_ROLE = "care_coordinator"  # also sent the screening notices (audience: coordinator and plan members)
SUPERVISOR = "sam-supervisor"     # who puts casey on each team
# Occurred just now: its follow-up is due tomorrow, so no reminder or escalation joins the notices.
CRISIS_CONTACT = {"kind": "crisis_line_call", "location": "phone", "responders": [], "outcome": "resolved_in_community"}
GAD7_POSITIVE = {"instrument": "GAD-7", "answers": {f"item{n}": 3 for n in range(1, 8)}}  # routine notice
SETUP_CONCURRENCY = 16
BACKLOG_CONCURRENCY = 32
# Bounds on waiting for arrivals: without progress, and in all. A crisis still missing then counts
# as infinitely late (see PhaseResult.latencies_ms): the benchmark ends and says so.
ARRIVAL_STALL, ARRIVAL_LIMIT = 60.0, 180.0  # every crisis on every channel, after the last was sent
DRAIN_STALL, DRAIN_LIMIT = 60.0, 240.0      # the routine deliveries of phase 1, the backlog's matching


@dataclass
class PhaseResult:
    name: str
    channels: list[str]
    crises: list[Crisis]
    routine_sent: int
    routine_failed: int
    max_send_lag_ms: float
    seconds: float
    cpu_seconds: dict[str, float]
    notes: list[str] = field(default_factory=list)

    def latencies_ms(self, channel: str) -> list[float]:
        """From intake's 201 to the arrival on `channel`; a crisis that never arrived counts as infinite."""
        return [(c.arrived[channel] - c.accepted) * 1000 if channel in c.arrived else math.inf
                for c in self.crises if c.failed is None]

    def missing(self, channel: str) -> int:
        return sum(1 for c in self.crises if c.failed is None and channel not in c.arrived)


class Caseload:
    """People registered at intake, each with casey on their care team, known to notifications."""

    def __init__(self, intake: IntakeClients, services: ServiceGroup) -> None:
        self._intake = intake
        self._services = services
        self._careplan = httpx.AsyncClient(base_url=services.by_name["careplan"].url, timeout=30.0,
                                           headers={"Authorization": f"Bearer {staff_token('supervisor', SUPERVISOR)}"})
        self.notifications = httpx.AsyncClient(base_url=services.by_name["notifications"].url, timeout=30.0,
                                               headers={"Authorization": f"Bearer {staff_token(MEMBER_ROLE, MEMBER)}"})
        self._made = itertools.count()

    async def aclose(self) -> None:
        await self._careplan.aclose()
        await self.notifications.aclose()

    async def people(self, count: int) -> list[str]:
        made: list[str] = []
        tickets = iter(range(count))

        async def worker() -> None:
            for _ in tickets:
                made.append(await self._one())

        await asyncio.gather(*(worker() for _ in range(min(SETUP_CONCURRENCY, count))))
        return made

    async def _one(self) -> str:
        number = next(self._made)
        response = await self._intake.post("/people", {
            "agency": BENCH_AGENCY, "agency_person_id": f"notify-{time.time_ns()}-{number}", "preferred_name": "Bench"})
        if response.status_code not in (200, 201):
            raise BenchError(f"registering a person: HTTP {response.status_code} {response.text[:300]}")
        person_id = response.json()["person_id"]
        # careplan forms a team only for a person it knows (it hears of the registration by broker),
        # and notifications answers for the person once it knows casey is on the team.
        await self._until(lambda: self._careplan.post(f"/people/{person_id}/team",
                                                      json={"member_id": MEMBER, "role": MEMBER_ROLE}),
                          (200, 201), f"careplan to form person {person_id}'s team")
        await self._until(lambda: self.notifications.get(f"/people/{person_id}/notifications"), (200,),
                          f"notifications to know person {person_id}'s team")
        return person_id

    async def _until(self, request, wanted: tuple[int, ...], what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            response = await request()
            if response.status_code in wanted:
                return
            if response.status_code != 404 or time.monotonic() > deadline:
                self._services.check_alive()
                raise BenchError(f"waiting for {what}: HTTP {response.status_code} {response.text[:200]}")
            await asyncio.sleep(0.1)  # polling with the deadline above as its bound

    async def subscribe(self, channel: WebhookChannel) -> str:
        made = await self.notifications.post("/subscriptions", json={"url": channel.url})
        if made.status_code != 201:
            raise BenchError(f"subscribing {channel.name}: HTTP {made.status_code} {made.text[:300]}")
        channel.use_secret(made.json()["secret"])
        return made.json()["subscription_id"]

    async def change(self, subscription_id: str, **settings: str) -> None:
        response = await self.notifications.patch(f"/subscriptions/{subscription_id}", json=settings)
        if response.status_code != 200:
            raise BenchError(f"changing subscription {subscription_id}: HTTP {response.status_code} {response.text[:200]}")

    async def unsubscribe(self, subscription_id: str) -> None:
        response = await self.notifications.delete(f"/subscriptions/{subscription_id}")
        if response.status_code != 204:
            raise BenchError(f"deleting subscription {subscription_id}: HTTP {response.status_code}")

    async def matched(self, subscription_id: str) -> int:
        """How many notices the subscription has been matched so far (its numbered events)."""
        response = await self.notifications.get(f"/subscriptions/{subscription_id}/events",
                                                params={"after": 2**62, "limit": 1})
        if response.status_code != 200:
            raise BenchError(f"reading subscription {subscription_id}: HTTP {response.status_code}")
        return int(response.json()["events_since_start"])


class Senders:
    """Crisis contacts and routine screenings, sent open loop (each at its scheduled time)."""

    def __init__(self, intake: IntakeClients, expectations: Expectations) -> None:
        self._intake = intake
        self._expectations = expectations
        self.routine_sent = self.routine_failed = 0
        self.max_lag = 0.0

    async def crisis(self, person_id: str, channels: list[str]) -> Crisis:
        crisis = Crisis(person_id, sent=time.perf_counter())
        self._expectations.expect(crisis, channels)
        body = {**CRISIS_CONTACT, "occurred_at": datetime.now(UTC).isoformat()}
        try:
            response = await self._intake.post(f"/people/{person_id}/crisis-contacts", body)
        except httpx.HTTPError as error:
            crisis.failed = f"{type(error).__name__}: {error}"
        else:
            crisis.accepted = time.perf_counter()
            if response.status_code not in (200, 201):
                crisis.failed = f"HTTP {response.status_code} {response.text[:200]}"
        if crisis.failed:
            self._expectations.forget(crisis)
        return crisis

    async def routine(self, person_id: str) -> None:
        try:
            response = await self._intake.post(f"/people/{person_id}/screenings", GAD7_POSITIVE)
            ok = response.status_code in (200, 201)
        except httpx.HTTPError:
            ok = False
        self.routine_sent += 1
        self.routine_failed += 0 if ok else 1

    async def open_loop(self, start: float, rate: float, count: int, send) -> list:
        """send(i) at start + i/rate, whatever happened to the earlier ones; their results."""
        tasks = []
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self.max_lag = max(self.max_lag, -delay)
            tasks.append(asyncio.create_task(send(i)))
        return await asyncio.gather(*tasks)


async def wait_until(condition, what: str, services: ServiceGroup, stream: StreamChannel,
                     progress=None, stall: float = DRAIN_STALL, limit: float = DRAIN_LIMIT) -> bool:
    """Poll (every 0.1 s) until `condition()`; False once `progress()` has not moved for `stall` s,
    or after `limit` s in all."""
    last, moved = None, time.monotonic()
    deadline = moved + limit
    while not condition():
        if time.monotonic() > deadline:
            print(f"  gave up waiting for {what} after {limit:.0f}s")
            return False
        services.check_alive()
        if (error := stream.failed()) is not None:
            raise BenchError(f"the live stream failed: {error!r}")
        now_at = progress() if progress is not None else None
        if now_at != last:
            last, moved = now_at, time.monotonic()
        elif time.monotonic() - moved > stall:
            print(f"  gave up waiting for {what} after {stall:.0f}s without progress")
            return False
        await asyncio.sleep(0.1)
    return True


async def crises_arrived(phase_crises: list[Crisis], channels: list[str], services: ServiceGroup,
                         stream: StreamChannel) -> None:
    def arrived() -> int:
        return sum(len(c.arrived) for c in phase_crises if c.failed is None)
    expected = len(channels) * sum(1 for c in phase_crises if c.failed is None)
    await wait_until(lambda: arrived() >= expected, "every crisis on every channel", services, stream,
                     arrived, ARRIVAL_STALL, ARRIVAL_LIMIT)


async def under_routine_traffic(senders: Senders, caseload_routine: list[str], caseload_crisis: list[str],
                                fast: WebhookChannel, stream: StreamChannel, services: ServiceGroup, cpu: CpuMeter,
                                rate: float, crisis_rate: float, seconds: float) -> PhaseResult:
    """Phase 1: routine screenings at `rate`/s while crises go at `crisis_rate`/s for `seconds`."""
    channels = [fast.name, stream.name]
    warmup = 2.0  # routine traffic runs alone first, and a second past the last crisis
    crisis_count = max(1, round(crisis_rate * seconds))
    routine_count = round(rate * (warmup + seconds + 1.0))
    routine_before, fast_before, lag_before = senders.routine_sent, fast.routine, senders.max_lag
    failed_before = senders.routine_failed
    senders.max_lag = 0.0
    cpu_before = cpu.snapshot()
    start = time.perf_counter() + 0.05
    routine = senders.open_loop(start, rate, routine_count,
                                lambda i: senders.routine(caseload_routine[i % len(caseload_routine)]))
    crises = senders.open_loop(start + warmup, crisis_rate, crisis_count,
                               lambda i: senders.crisis(caseload_crisis[i % len(caseload_crisis)], channels))
    _, phase_crises = await asyncio.gather(routine, crises)
    await crises_arrived(phase_crises, channels, services, stream)
    seconds_taken = time.perf_counter() - start
    cpu_used = CpuMeter.used(cpu_before, cpu.snapshot())
    sent = senders.routine_sent - routine_before
    failed = senders.routine_failed - failed_before
    result = PhaseResult("routine traffic", channels, phase_crises, sent, failed, senders.max_lag * 1000,
                         seconds_taken, cpu_used)
    senders.max_lag = max(senders.max_lag, lag_before)
    # Before the next phase: every routine delivery of this one reached the fast receiver.
    drained_at = time.perf_counter()
    if await wait_until(lambda: fast.routine - fast_before >= sent - failed,
                        "the routine deliveries", services, stream, lambda: fast.routine):
        result.notes.append(f"routine deliveries all received {time.perf_counter() - drained_at:.1f}s "
                            "after the last crisis arrived")
    else:
        result.notes.append(f"routine deliveries received: {fast.routine - fast_before} of {sent}")
    return result


async def behind_a_backlog(senders: Senders, caseload: Caseload, routine_people: list[str], crisis_people: list[str],
                           fast: WebhookChannel, fast_subscription: str, slow: WebhookChannel, stream: StreamChannel,
                           services: ServiceGroup, cpu: CpuMeter, backlog: int, crisis_rate: float,
                           seconds: float) -> PhaseResult:
    """Phase 2: `backlog` routine deliveries queued for a slow receiver, then crises.

    The fast subscription takes only urgent notices meanwhile: the backlog is the slow one's alone.
    """
    channels = [fast.name, slow.name, stream.name]
    await caseload.change(fast_subscription, min_urgency="urgent")
    slow_subscription = await caseload.subscribe(slow)
    try:
        started = time.perf_counter()
        tickets = iter(range(backlog))
        failed_before = senders.routine_failed

        async def worker() -> None:
            for i in tickets:
                await senders.routine(routine_people[i % len(routine_people)])

        await asyncio.gather(*(worker() for _ in range(BACKLOG_CONCURRENCY)))
        accepted = backlog - (senders.routine_failed - failed_before)
        # Queued: matched to the slow subscription (each notice recorded, then matched).
        matched = 0

        async def poll_matched() -> None:
            nonlocal matched
            while True:
                matched = await caseload.matched(slow_subscription)
                # Not more often: notifications reads the subscription's whole history to answer.
                await asyncio.sleep(2.0)
        polling = asyncio.create_task(poll_matched())
        try:
            await wait_until(lambda: matched >= accepted, "the backlog to be queued", services, stream,
                             lambda: matched)
        finally:
            polling.cancel()
        queued_seconds = time.perf_counter() - started
        matched = await caseload.matched(slow_subscription)
        pending_before = matched - slow.routine - slow.urgent
        print(f"  backlog: {accepted} routine screenings accepted, {matched} notices matched to the slow "
              f"subscription after {queued_seconds:.1f}s; {pending_before} deliveries pending for the slow receiver")

        cpu_before = cpu.snapshot()
        lag_before, senders.max_lag = senders.max_lag, 0.0
        start = time.perf_counter() + 0.05
        crisis_count = max(1, round(crisis_rate * seconds))
        phase_crises = await senders.open_loop(start, crisis_rate, crisis_count,
                                               lambda i: senders.crisis(crisis_people[i % len(crisis_people)], channels))
        await crises_arrived(phase_crises, channels, services, stream)
        seconds_taken = time.perf_counter() - start
        cpu_used = CpuMeter.used(cpu_before, cpu.snapshot())
        pending_after = await caseload.matched(slow_subscription) - slow.routine - slow.urgent
        result = PhaseResult("routine backlog", channels, phase_crises, accepted, backlog - accepted,
                             senders.max_lag * 1000, seconds_taken, cpu_used)
        senders.max_lag = max(senders.max_lag, lag_before)
        result.notes.append(f"backlog: {accepted} screenings accepted, {matched} matched to the slow subscription after "
                            f"{queued_seconds:.1f}s; deliveries pending for the slow receiver: {pending_before} when "
                            f"the crises began, {pending_after} after the last arrived")
        return result
    finally:
        # Its lanes stop: the next run does not start behind this one's backlog. An overloaded
        # notifications may not answer in time: the measurements above still stand.
        try:
            await caseload.unsubscribe(slow_subscription)
            await caseload.change(fast_subscription, min_urgency="routine")
        except (httpx.HTTPError, BenchError) as error:
            print(f"  could not put the subscriptions back after phase 2 ({type(error).__name__}: {error}); "
                  "a next run would measure behind this one's backlog")
