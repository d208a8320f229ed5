"""Marks of where an urgent item is on its way through the services, for measuring its path.

Off unless the `carecoord.hops` logger is at DEBUG (`LOG_LEVELS='{"carecoord.hops": "DEBUG"}'`):
then each service logs one record per urgent item at each hop (`hop`, `person_id`, and `at`, the
time in seconds since the epoch), and bench/crisis_hops.py puts a crisis's marks in order. Off, a
mark costs one `isEnabledFor` check where the code already knows the item is urgent. A mark names
the person of an urgent item (that someone had a crisis): for benchmarks on made-up people only.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("carecoord.hops")


def marking() -> bool:
    return log.isEnabledFor(logging.DEBUG)


def mark(hop: str, person_id: object, at: float | None = None) -> None:
    """`person_id`'s urgent item reached `hop` at `at` (now when None)."""
    if log.isEnabledFor(logging.DEBUG):
        at = time.time() if at is None else at
        log.debug("hop %s person %s at %.6f", hop, person_id, at, extra={"hop": hop, "person_id": str(person_id), "at": at})


def is_crisis_event(event_type: str) -> bool:
    """Intake's crisis contacts: the benchmark's urgent items (careplan's crisis follow-up events,
    which follow them, are left out so that each crisis has one mark per hop)."""
    return event_type.startswith("carecoord.intake.") and "crisis" in event_type
