"""When each delivery lane is next to be looked at: a heap of due times, urgent lanes first.

The dispatcher (delivery/dispatch.py) asks for the lanes due now and for the next due time; it
never walks the lanes that are not due. Of the lanes due at once, the urgent ones come out first,
so a crisis's lane is started (and its first query queued on the service's pool) before a burst of
routine lanes that became due with it. Plain Python, no clock of its own: callers pass the time.
"""

from __future__ import annotations

import heapq
import itertools
from uuid import UUID

ROUTINE, URGENT_OR_UNKNOWN = 1, 0  # a lane never read yet may be urgent: it is not made to wait


class DueLanes:
    def __init__(self) -> None:
        self._due: dict[UUID, float] = {}  # lane -> its earliest due time (seconds since the epoch)
        self._heap: list[tuple[float, int, UUID]] = []  # (due, tie-break, lane); stale entries skipped
        self._routine: set[UUID] = set()  # lanes known to be routine (learnt when read)
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, lane: UUID) -> bool:
        return lane in self._due

    def learn(self, lane: UUID, urgent: bool) -> None:
        """What kind of lane this is (lane ids are derived, so its urgency is known once read)."""
        if urgent:
            self._routine.discard(lane)
        else:
            self._routine.add(lane)

    def is_routine(self, lane: UUID) -> bool:
        """Known to be routine (a lane not read yet may be urgent)."""
        return lane in self._routine

    def schedule(self, lane: UUID, at: float) -> None:
        """Look at `lane` at `at`, or earlier if it is due earlier already."""
        if lane in self._due and self._due[lane] <= at:
            return
        self._due[lane] = at
        heapq.heappush(self._heap, (at, next(self._order), lane))

    def pop_due(self, now: float) -> list[UUID]:
        """The lanes due by `now`, urgent (or not yet read) ones first, each by due time; they are
        no longer scheduled."""
        due: list[tuple[float, int, UUID]] = []
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            at, _, lane = entry
            if self._due.get(lane) == at:  # else a stale entry: rescheduled earlier, or popped
                del self._due[lane]
                due.append(entry)
        due.sort(key=lambda entry: (ROUTINE if entry[2] in self._routine else URGENT_OR_UNKNOWN, entry[0], entry[1]))
        return [lane for _, _, lane in due]

    def next_due(self) -> float | None:
        """The earliest due time still scheduled (None: none)."""
        while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None
