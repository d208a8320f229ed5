"""Marks of where an urgent item is on its way through the services, for measuring its path.

Off unless the `carecoord.hops` logger is at DEBUG (`LOG_LEVELS='{"carecoord.hops": "DEBUG"}'`):
then each service logs one record per urgent item at each hop (`hop`, `person_key`, and `at`, the
time in seconds since the epoch), and bench/crisis_hops.py puts a crisis's marks in order. Off, a
mark costs one `isEnabledFor` check where the code already knows the item is urgent. A mark does
not name the person: `person_key` is a digest of the person id (ids are random UUIDs, so the
digest cannot be reversed without the list of ids), which the benchmark, knowing its people,
computes too. It still says that some person had an urgent item at that time: benchmarks only.
"""

from __future__ import annotations

import hashlib
import logging
import time

log = logging.getLogger("carecoord.hops")


def marking() -> bool:
    return log.isEnabledFor(logging.DEBUG)


def person_key(person_id: object) -> str:
    """What a mark logs in place of the person id."""
    return hashlib.sha256(str(person_id).encode()).hexdigest()[:16]


def mark(hop: str, person_id: object, at: float | None = None) -> None:
    """`person_id`'s urgent item reached `hop` at `at` (now when None)."""
    if log.isEnabledFor(logging.DEBUG):
        at = time.time() if at is None else at
        key = person_key(person_id)
        log.debug("hop %s person %s at %.6f", hop, key, at, extra={"hop": hop, "person_key": key, "at": at})


def is_crisis_event(event_type: str) -> bool:
    """Intake's crisis contacts: the benchmark's urgent items (careplan's crisis follow-up events,
    which follow them, are left out so that each crisis has one mark per hop)."""
    return event_type.startswith("carecoord.intake.") and "crisis" in event_type
