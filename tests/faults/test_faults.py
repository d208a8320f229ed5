"""The fault suite: under steady load, one fault after another; after each, every command intake
accepted is applied exactly once by every consumer, in each person's order, and poison sits in
the dead-letter queues with its reason.

One test, the faults in turn on one running system (starting three processes costs more than a
fault); each fault loads people of its own, so its counts are its own. Every fault is checked and
tabled even when an earlier one failed; the test fails at the end naming each that did.
Run alone: `.venv/bin/python -m pytest tests/faults -q` (the table follows the test summary).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aio_pika
import pytest

from shared.dead_letters import read_dead_letter, replay_message
from tests.faults.load import CommandLoad
from tests.faults.outcomes import CONSUMERS, Readers, Tally
from tests.faults.report import ROWS, Row
from tests.faults.stack import FaultStack
from tests.support.polling import eventually
from tests.support.system import System

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(900)]

PEOPLE = 4            # per fault
RATE = 12.0           # commands/s over all of a fault's people
BEFORE = 24           # commands accepted before the fault is injected (about 2 s of load)
AFTER = 24            # and after it ends, so that load runs through recovery
CUT_SECONDS = 3.0     # how long a connection stays cut: the fault's length, not a wait for anything
POISON = 10           # malformed messages per target queue
CATCH_UP_TIMEOUT = 120.0
DEAD_LETTER_QUEUES = ("intake.commands.dead-letter", "intake.dead-letter", "careplan.dead-letter",
                      "notifications.dead-letter")


@dataclass
class Phase:
    """One fault's run: the injection marks when recovery starts, and what it dead-lettered."""

    system: System
    stack: FaultStack
    load: CommandLoad
    dead_letters: dict[str, int] = field(default_factory=dict)
    recovering_since: float = 0.0
    accepted_by_then: dict[str, list[int]] = field(default_factory=dict)

    def recovering(self) -> None:
        """From now on the system recovers: it must catch up with everything accepted so far."""
        self.recovering_since, self.accepted_by_then = time.monotonic(), self.load.accepted_now()


Inject = Callable[[Phase], Awaitable[None]]


def kill_and_restart(name: str) -> Inject:
    async def inject(phase: Phase) -> None:
        # Recovery counts from the kill: restarting is part of it.
        await phase.stack.kill(name)
        phase.recovering()
        await phase.stack.restart(name)
    return inject


def cut(which: str) -> Inject:
    async def inject(phase: Phase) -> None:
        proxy = getattr(phase.stack, which)
        proxy.cut()
        try:
            await asyncio.sleep(CUT_SECONDS)
        finally:
            proxy.restore()
        phase.recovering()
    return inject


async def poison_burst(phase: Phase) -> None:
    """Malformed commands to intake's command queue, and malformed events from intake's own broker
    user (believed as its source, so parsed) to every consumer of `intake.#`."""
    channel = await phase.system.channel()
    commands = await channel.get_exchange("carecoord.commands")
    bodies = [b"not json", b"{}", json.dumps({"command": "register_person"}).encode(),
              json.dumps({"event_id": "x", "type": "carecoord.intake.person_registered", "version": 99}).encode()]
    for n in range(POISON):
        await commands.publish(aio_pika.Message(bodies[n % len(bodies)], message_id=f"poison-command-{n}",
                                                delivery_mode=2), routing_key="intake")
        await phase.system.publish_raw(bodies[n % len(bodies)], "intake.person_registered", as_service="intake")
    await channel.close()
    phase.recovering()
    phase.dead_letters.update({"intake.commands": POISON, **{consumer: POISON for consumer in CONSUMERS}})


def duplicate_and_reorder(tap: list[aio_pika.abc.AbstractQueue]) -> Inject:
    async def inject(phase: Phase) -> None:
        """Copies of the events intake published for this fault's people, twice each, shuffled, put
        straight into each consumer's inbox as the dead-letter replay does (as the consumer's own
        user, naming intake as the publisher). Each original reached the inbox before its copies
        (the tap and the inbox get it at once), so the copies arrive late and out of order: each
        must be recognised as applied, whichever order it comes in."""
        events = await phase.system.drain(tap[0])
        assert events, "the tap saw none of this fault's events"
        copies = events * 2
        random.Random(18).shuffle(copies)
        for consumer in CONSUMERS:
            channel = await phase.system.service_channel(consumer)
            user = phase.system.broker_user(consumer)
            for event in copies:
                await channel.default_exchange.publish(replay_message(event, user), routing_key=f"{consumer}.inbox",
                                                       mandatory=True)
            await channel.close()
        phase.recovering()
    return inject


async def run_fault(system: System, stack: FaultStack, readers: Readers, label: str, inject: Inject,
                    before: Callable[[], Awaitable[None]] | None = None) -> list[str]:
    """Load, fault, load, catch up; the rows tabled; what went wrong, if anything."""
    slug = label.replace(" ", "-").replace("/", "-")
    load = CommandLoad(stack.url("intake"), slug, PEOPLE, RATE)
    if before is not None:
        await before()
    await load.start()
    phase = Phase(system, stack, load)
    failures: list[str] = []
    recovery: float | None = None
    try:
        await eventually(_at_least(load, BEFORE), timeout=60, what=f"{BEFORE} commands accepted before {label}")
        await inject(phase)
        try:
            await eventually(lambda: readers.caught_up(phase.accepted_by_then), timeout=CATCH_UP_TIMEOUT,
                             interval=0.2, what=f"the consumers to catch up after {label}")
            recovery = time.monotonic() - phase.recovering_since
        except AssertionError as error:
            failures.append(f"{label}: {error}")
        await eventually(_at_least(load, load.sent + AFTER), timeout=60, what=f"{AFTER} commands after {label}")
    finally:
        await load.stop()
    final = load.accepted_now()
    try:
        await eventually(lambda: readers.caught_up(final), timeout=CATCH_UP_TIMEOUT, interval=0.2,
                         what=f"everything accepted during {label} to be applied")
    except AssertionError as error:
        failures.append(f"{label}: {error}")
    dead = await _dead_letters(system, phase.dead_letters, failures, label)
    failures += await _unexpected_dead_letters(system, label)
    for consumer in CONSUMERS:
        tally = Tally()
        for person in load.people:
            shown = await readers.shown(consumer, person.person_id) or []
            tally.add(person.person_id, person.accepted, shown, person.unacknowledged)
            tally.problems.extend(person.refused)
        ROWS.append(Row(label, consumer, tally, recovery, load.transport_errors + load.server_errors,
                        load.slowest, dead))
        if not tally.exact:
            failures.append(f"{label}, {consumer}: {tally}")
    stack.check_running()
    return failures


async def _dead_letters(system: System, expected: dict[str, int], failures: list[str], label: str) -> str:
    """Take the dead letters the fault was expected to cause; each must carry a reason."""
    found = []
    for queue, count in expected.items():
        try:
            letters = await system.collect(queue, count, what=f"{count} dead letters in {queue}.dead-letter")
        except AssertionError as error:
            failures.append(f"{label}: {error}")
            continue
        reasons = [read_dead_letter(letter).reason for letter in letters]
        unexplained = [reason for reason in reasons if reason == "(no reason recorded)"]
        if unexplained:
            failures.append(f"{label}: {len(unexplained)} dead letters in {queue} without a reason")
        found.append(f"{queue} {len(letters)}")
    return ", ".join(found)


async def _unexpected_dead_letters(system: System, label: str) -> list[str]:
    """Anything else parked by now, with its reason: a fault must never park a good message."""
    channel = await system.channel()
    try:
        parked = []
        for queue in DEAD_LETTER_QUEUES:
            declared = await channel.declare_queue(queue, passive=True)
            if declared.declaration_result.message_count:
                parked += [f"{queue}: {read_dead_letter(m).reason}" for m in await system.drain(declared)]
    finally:
        await channel.close()
    return [f"{label}: unexpected dead letters: {parked}"] if parked else []


def _at_least(load: CommandLoad, count: int) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return load.sent >= count
    return probe


async def test_every_accepted_command_is_applied_once_and_in_order_through_every_fault(system: System, tmp_path):
    async with FaultStack(system, tmp_path) as stack:
        readers = Readers({name: stack.url(name) for name in CONSUMERS})
        tap: list[aio_pika.abc.AbstractQueue] = []

        async def open_tap() -> None:
            tap.append(await system.tap("intake.#"))

        faults: list[tuple[str, Inject, Callable[[], Awaitable[None]] | None]] = [
            ("kill -9 intake", kill_and_restart("intake"), None),
            ("kill -9 careplan", kill_and_restart("careplan"), None),
            ("kill -9 notifications", kill_and_restart("notifications"), None),
            ("broker cut", cut("broker"), None),
            ("database cut", cut("database"), None),
            ("poison burst", poison_burst, None),
            ("duplicated/reordered", duplicate_and_reorder(tap), open_tap),
        ]
        failures: list[str] = []
        try:
            for label, inject, before in faults:
                failures += await run_fault(system, stack, readers, label, inject, before)
        finally:
            await readers.aclose()
    assert not failures, "\n".join(failures)
