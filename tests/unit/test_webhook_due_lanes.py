"""The dispatcher's due times (delivery/due_lanes.py): only lanes that are due come out, urgent
ones (and lanes not read yet, which may be urgent) before routine ones, each once."""

from __future__ import annotations

from uuid import uuid4

from services.notifications.delivery.due_lanes import DueLanes


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
