"""Routine screenings for a caseload whose notices go to a webhook and to the live stream: the set-up
and the measured load that both CPU benchmarks (intake_cpu.py, notifications_cpu.py) run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bench.arrivals import Expectations, StreamChannel, WebhookChannel, webhook_channel
from bench.crisis import MEMBER, MEMBER_ROLE, Caseload, Senders, wait_until
from bench.load import IntakeClients
from bench.stack import ServiceGroup, staff_token


@dataclass(frozen=True)
class Delivered:
    """One load: screenings sent, seconds until every notice arrived, and the notices that did."""

    sent: int
    took: float
    by_webhook: int
    by_stream: int


@dataclass(frozen=True)
class RoutineLoad:
    services: ServiceGroup
    senders: Senders
    webhook: WebhookChannel
    stream: StreamChannel
    people: list[str]

    async def send(self, rate: float, seconds: float) -> Delivered:
        """Sends rate x seconds positive screenings open loop, round the caseload, and waits until each
        one's notice has reached both the webhook and the stream."""
        count = round(rate * seconds)
        webhook_before, stream_before = self.webhook.routine, self.stream.events
        started = time.perf_counter()
        await self.senders.open_loop(started + 0.05, rate, count,
                                     lambda i: self.senders.routine(self.people[i % len(self.people)]))
        sent = count - self.senders.routine_failed
        await wait_until(lambda: self.webhook.routine - webhook_before >= sent
                         and self.stream.events - stream_before >= sent,
                         "every notice delivered", self.services, self.stream,
                         lambda: (self.webhook.routine, self.stream.events))
        return Delivered(sent, time.perf_counter() - started, self.webhook.routine - webhook_before,
                         self.stream.events - stream_before)


@asynccontextmanager
async def routine_load(services: ServiceGroup, people: int, rate: float) -> AsyncIterator[RoutineLoad]:
    """`people` registered with casey on their team, her webhook subscription and her live stream
    open, and the set-up's own notices delivered before the caller measures anything."""
    expectations = Expectations()
    intake = IntakeClients(services.by_name["intake"].url)
    caseload = Caseload(intake, services)
    stream = StreamChannel(services.by_name["notifications"].url, staff_token(MEMBER_ROLE, MEMBER), expectations)
    try:
        async with webhook_channel("fast", expectations) as webhook:
            registered = await caseload.people(people)
            await caseload.subscribe(webhook)
            await stream.start()
            intake.prepare(min(256, int(rate)))
            await asyncio.sleep(2.0)  # the set-up's own notices delivered
            yield RoutineLoad(services, Senders(intake, expectations), webhook, stream, registered)
    finally:
        await stream.close()
        await caseload.aclose()
        await intake.aclose()
