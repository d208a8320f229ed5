"""The suite's judge can fail: a duplicate, a loss, a reordering and a stray are each counted."""

from tests.faults.outcomes import Tally


def test_an_exact_history_passes():
    tally = Tally()
    tally.add("p", [1, 2, 3], [1, 2, 3], unacknowledged=None)
    assert (tally.sent, tally.applied, tally.exact) == (3, 3, True)


def test_duplicates_losses_reorderings_and_strays_are_counted():
    tally = Tally()
    tally.add("p", [1, 2, 3, 4], [1, 3, 2, 3, 9], unacknowledged=None)
    assert (tally.applied, tally.duplicates, tally.lost, tally.out_of_order, tally.unexpected) == (3, 1, 1, 1, 1)
    assert not tally.exact and tally.problems


def test_a_command_never_acknowledged_may_be_applied_once():
    tally = Tally()
    tally.add("p", [1, 2], [1, 2, 3], unacknowledged=3)
    assert tally.exact
