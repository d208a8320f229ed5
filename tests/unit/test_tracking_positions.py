"""Which upstream positions a consumer's recorder accepts, the same in memory as on PostgreSQL.

Broker deliveries arrive out of order (retries), so each (source, position) is kept once, not a
"highest position seen": an earlier position arriving late is applied, the same position twice is
refused with its effect."""

from __future__ import annotations

from uuid import uuid4


from shared.following import ConcurrentChange, UpstreamChange
from tests.unit.test_following import NOW, upstream


def registered(ref) -> UpstreamChange:
    return UpstreamChange(ref, lambda timeline: timeline.add_entry(ref, "person_registered", "Registered", NOW))


def test_an_earlier_position_delivered_after_a_later_one_is_applied(careplan):
    late, early = uuid4(), uuid4()
    assert careplan.add_to_timeline(upstream(late, 1, position=9), "person_registered", "Registered", NOW) is True
    assert careplan.add_to_timeline(upstream(early, 1, position=4), "person_registered", "Registered", NOW) is True
    assert [e.sequence for e in careplan.timeline(early)] == [1]


def test_the_same_position_twice_in_one_batch_is_applied_once(careplan):
    first, second = uuid4(), uuid4()
    outcomes = careplan.apply_upstream_batch([registered(upstream(first, 1, position=5)),
                                              registered(upstream(second, 1, position=5))])
    assert outcomes[0] is True and isinstance(outcomes[1], ConcurrentChange)
    assert [e.sequence for e in careplan.timeline(first)] == [1]
    assert careplan.timeline(second) is None
