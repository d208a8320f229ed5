"""While busy the relay writes its position at most every so often; idle or stopping, at once."""

import asyncio
from collections.abc import Sequence

import pytest

from services.intake.application import IntakeApplication
from services.intake.translation import TRANSLATIONS
from shared.relay import OutboxRelay, Outgoing
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


def relay_of(intake, positions, interval):
    return OutboxRelay("intake", intake, TRANSLATIONS, Published(), positions, run_sync,
                       save_interval_seconds=interval)


async def test_a_busy_relay_defers_its_position_and_writes_it_once_idle(intake, provenance):
    positions = Positions()
    relay = relay_of(intake, positions, interval=3600)
    intake.register_person("north", "1", "Sam", None, provenance)
    assert await relay._publish_next_batch(save_behind=True) == 1
    await relay._saved()
    assert positions.saved == [1], "the first batch is written (nothing was written for an interval)"

    intake.register_person("north", "2", "Ana", None, provenance)
    assert await relay._publish_next_batch(save_behind=True) == 1
    await relay._saved()
    assert positions.saved == [1], "within the interval the write is put off"
    assert relay.position == 2

    assert await relay._publish_next_batch(save_behind=True) == 0
    assert positions.saved == [1, 2], "idle: what was put off is written"


async def test_a_relay_stopped_while_busy_writes_the_position_it_put_off(intake, provenance):
    positions = Positions()
    relay = relay_of(intake, positions, interval=3600)
    for n in range(3):
        intake.register_person("north", str(n), "Sam", None, provenance)
        await relay._publish_next_batch(save_behind=True)
        await relay._saved()
    assert positions.saved == [1]

    stuck = asyncio.Event()

    async def hold_lease(relay: str) -> bool:
        await stuck.wait()  # the service stops while the relay is in the middle of a step
        return True

    positions.hold_lease = hold_lease  # type: ignore[method-assign]
    task = asyncio.ensure_future(relay.run())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert positions.saved == [1, 3]
