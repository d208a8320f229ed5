"""The dispatcher's due times (delivery/due_lanes.py): only lanes that are due come out, urgent
ones (and lanes not read yet, which may be urgent) before routine ones, each once; and urgent
lanes' first reads are batched apart from routine ones' (delivery/dispatch.py)."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

from services.notifications.delivery.dispatch import WebhookDispatcher
from services.notifications.delivery.due_lanes import DueLanes
from services.notifications.delivery.send_decisions import Later
from services.notifications.delivery.settings import WebhookSettings


def test_only_due_lanes_come_out_and_the_rest_wait_for_their_time():
    lanes = DueLanes()
    soon, later, now = uuid4(), uuid4(), uuid4()
    lanes.schedule(soon, 105.0)
    lanes.schedule(later, 200.0)
    lanes.schedule(now, 100.0)
    assert lanes.pop_due(100.0) == [now]
    assert lanes.next_due() == 105.0
    assert lanes.pop_due(150.0) == [soon]
    assert lanes.pop_due(150.0) == []
    assert len(lanes) == 1 and later in lanes
    assert lanes.pop_due(200.0) == [later]
    assert lanes.next_due() is None and len(lanes) == 0


def test_urgent_lanes_come_out_before_routine_ones_due_earlier():
    lanes = DueLanes()
    routine = [uuid4() for _ in range(50)]
    crisis, unread = uuid4(), uuid4()
    for number, lane in enumerate(routine):
        lanes.learn(lane, urgent=False)
        lanes.schedule(lane, 100.0 + number / 100)
    lanes.learn(crisis, urgent=True)
    lanes.schedule(crisis, 100.9)
    lanes.schedule(unread, 100.95)  # not read yet: it may be a crisis's lane, so it does not wait
    due = lanes.pop_due(101.0)
    assert due[:2] == [crisis, unread]
    assert due[2:] == routine  # the routine ones by due time


def test_a_lane_rescheduled_earlier_comes_out_once_at_the_earlier_time():
    lanes = DueLanes()
    lane = uuid4()
    lanes.schedule(lane, 300.0)
    lanes.schedule(lane, 100.0)
    lanes.schedule(lane, 200.0)  # later than what is scheduled: changes nothing
    assert lanes.next_due() == 100.0
    assert lanes.pop_due(100.0) == [lane]
    assert lanes.pop_due(1000.0) == []  # the entries at 300 and 200 were superseded
    lanes.schedule(lane, 300.0)  # scheduled again after it came out
    assert lanes.pop_due(300.0) == [lane]


def test_a_lane_is_routine_only_once_read_as_routine():
    lanes = DueLanes()
    routine, crisis, unread = uuid4(), uuid4(), uuid4()
    lanes.learn(routine, urgent=False)
    lanes.learn(crisis, urgent=True)
    assert lanes.is_routine(routine)
    assert not lanes.is_routine(crisis) and not lanes.is_routine(unread)  # an unread lane may be a crisis's


async def test_an_urgent_lanes_first_send_does_not_wait_for_a_batch_of_routine_lanes():
    """The first reads of lanes that became due go to the pool in batches; an urgent lane's go in
    batches of their own, so a crisis is not held up by routine lanes' batch in the database."""
    routine_batch_in_database = asyncio.Event()
    released = asyncio.Event()
    batches: list[list[UUID]] = []

    async def run_sync(fn, lane_ids):  # stands for the pool: nothing to send on any lane
        batches.append(list(lane_ids))
        if routine in lane_ids:
            routine_batch_in_database.set()
            await released.wait()
        return [Later(None)] * len(lane_ids)

    dispatcher = WebhookDispatcher(None, WebhookSettings(), None, run_sync)  # type: ignore[arg-type]
    routine, crisis = uuid4(), uuid4()
    dispatcher._due.learn(routine, urgent=False)
    dispatcher._due.learn(crisis, urgent=True)
    routine_send = asyncio.ensure_future(dispatcher._send_lane(routine))
    await asyncio.wait_for(routine_batch_in_database.wait(), timeout=5)
    await asyncio.wait_for(dispatcher._send_lane(crisis), timeout=5)  # not behind the routine batch
    assert batches == [[routine], [crisis]]
    released.set()
    await asyncio.wait_for(routine_send, timeout=5)
