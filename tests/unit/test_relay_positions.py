"""While busy the relay writes its position at most every so often; idle or stopping, at once."""

import asyncio
import contextlib
from collections.abc import Sequence

import pytest

from services.intake.application import IntakeApplication
from services.intake.translation import TRANSLATIONS
from shared.relay import OutboxRelay, Outgoing
from tests.support.polling import eventually
from tests.unit.conftest import IN_MEMORY


class Published:
    def __init__(self) -> None:
        self.positions: list[int] = []

    async def publish_in_order(self, batch: Sequence[Outgoing]) -> None:
        self.positions.extend(outgoing.event.position for outgoing in batch)


class Positions:
    """RelayPositions in memory: this process holds the lease."""

    is_open = True

    def __init__(self) -> None:
        self.saved: list[int] = []

    async def hold_lease(self, relay: str) -> bool:
        return True

    async def load(self, relay: str) -> int:
        return self.saved[-1] if self.saved else 0

    async def save(self, relay: str, position: int) -> None:
        self.saved.append(position)

    async def close(self) -> None: ...


async def run_sync(fn, *args, **kwargs):
    return fn(*args, **kwargs)


@pytest.fixture
def intake():
    application = IntakeApplication(env=IN_MEMORY)
    yield application
    application.close()


def relay_of(intake, positions, published=None):
    # One event a batch, so that each registration is a step of its own; within the hour the
    # relay is busy, so only the first write is due.
    return OutboxRelay("intake", intake, TRANSLATIONS, published or Published(), positions, run_sync,
                       batch_size=1, save_interval_seconds=3600)


async def test_a_busy_relay_defers_its_position_and_writes_it_once_idle(intake, provenance):
    positions = Positions()
    published = Published()
    relay = relay_of(intake, positions, published)
    for n in range(3):
        intake.register_person("north", str(n), "Sam", None, provenance)
    running = asyncio.ensure_future(relay.run())
    try:
        await eventually(lambda: _true(positions.saved[-1:] == [3]), timeout=5, what="the idle relay's write")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert published.positions == [1, 2, 3]
    # The first batch at once (nothing was written for an interval), the next two put off, then idle.
    assert positions.saved == [1, 3]


async def test_a_relay_stopped_while_busy_writes_the_position_it_put_off(intake, provenance):
    class StuckAtTheFourth(Published):
        def __init__(self) -> None:
            super().__init__()
            self.stuck = asyncio.Event()

        async def publish_in_order(self, batch: Sequence[Outgoing]) -> None:
            if any(outgoing.event.position == 4 for outgoing in batch):
                self.stuck.set()  # the service stops while the relay is in the middle of a step
                await asyncio.Event().wait()
            await super().publish_in_order(batch)

    positions = Positions()
    published = StuckAtTheFourth()
    relay = relay_of(intake, positions, published)
    for n in range(4):
        intake.register_person("north", str(n), "Sam", None, provenance)
    running = asyncio.ensure_future(relay.run())
    await asyncio.wait_for(published.stuck.wait(), timeout=5)
    assert positions.saved == [1]
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert published.positions == [1, 2, 3]
    assert positions.saved == [1, 3]


async def _true(value: bool) -> bool:
    return value
