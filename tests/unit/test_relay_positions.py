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


class ConfirmedWhenTold(Published):
    """Publishes at once (in call order), confirms each batch only when the test says so."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.confirms: dict[int, asyncio.Future[None]] = {}
        self.fail_at = fail_at

    async def publish_in_order(self, batch: Sequence[Outgoing]) -> None:
        await super().publish_in_order(batch)
        confirm = self.confirms[batch[-1].event.position] = asyncio.get_running_loop().create_future()
        await confirm

    def confirm(self, position: int) -> None:
        if position == self.fail_at:
            self.confirms[position].set_exception(ConnectionError("the broker went away"))
        else:
            self.confirms[position].set_result(None)


async def test_a_batch_is_published_without_waiting_for_the_confirms_of_the_one_before(intake, provenance):
    positions = Positions()
    published = ConfirmedWhenTold()
    relay = relay_of(intake, positions, published)
    intake.register_person("north", "0", "Sam", None, provenance)
    running = asyncio.ensure_future(relay.run())
    try:
        await eventually(lambda: _true(published.positions == [1]), timeout=5, what="the first batch published")
        intake.register_person("north", "1", "Kim", None, provenance)  # committed while 1 waits for its confirm
        relay.wake()
        await eventually(lambda: _true(published.positions == [1, 2]), timeout=5, what="the second batch published")
        assert positions.saved == [] and relay.position == 0  # nothing confirmed yet: the position stays
        published.confirm(2)
        await asyncio.sleep(0)
        assert relay.position == 0  # confirmed out of order: still behind the first batch
        published.confirm(1)
        await eventually(lambda: _true(positions.saved[-1:] == [2]), timeout=5, what="the position of both")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert positions.saved == [1, 2]


async def test_after_a_failed_batch_the_ones_after_it_are_published_again_from_the_confirmed_position(
        intake, provenance):
    positions = Positions()
    published = ConfirmedWhenTold(fail_at=2)
    relay = relay_of(intake, positions, published)
    for n in range(3):
        intake.register_person("north", str(n), "Sam", None, provenance)
    running = asyncio.ensure_future(relay.run())
    try:
        await eventually(lambda: _true(published.positions == [1, 2, 3]), timeout=5, what="three batches in flight")
        published.confirm(1)
        published.confirm(3)
        published.confirm(2)  # fails: 3 was confirmed, but it came after a batch that was not
        await eventually(lambda: _true(published.positions[3:] == [2, 3]), timeout=5, what="2 and 3 published again")
        assert relay.position == 1 and positions.saved == [1]
        published.fail_at = None
        published.confirm(2)
        published.confirm(3)
        await eventually(lambda: _true(positions.saved[-1:] == [3]), timeout=5, what="the idle relay's write")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert published.positions == [1, 2, 3, 2, 3]
