"""How careplan's commands change and save aggregates: load (from the cache), change, save.

Commands on one aggregate in this process take turns (a lock per aggregate), so they never conflict
with each other; a conflict means another replica changed it meanwhile, and the command is retried
on what is stored, after a jittered, growing pause.

A mixin of CareplanApplication (a ServiceApplication), which creates the locks (`_writing`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import RecordConflictError

from shared.eventstore import KeyedThreadLocks

T = TypeVar("T")

# Conflicts come only from other replicas (see `_change`): a few retries, each after a random pause
# up to a cap that doubles from 10 ms to 500 ms (about 1.5 s in all at worst), so that replicas
# writing the same plan spread out rather than collide again in step.
CHANGE_ATTEMPTS = 8
FIRST_BACKOFF = 0.01
MAX_BACKOFF = 0.5


class TooManyConflicts(Exception):
    """Other replicas kept changing the aggregate while this command tried to: nothing was saved,
    and the same command may be sent again shortly."""

    retry_after_seconds = 1


class AggregateWrites:
    repository: Any
    save: Callable[..., Any]
    forget: Callable[[Iterable[UUID]], None]
    read: Callable[[UUID], Any]
    _writing: KeyedThreadLocks  # one per aggregate being changed here

    def _change(self, aggregate_id: UUID, start: Callable[[], Aggregate], change: Callable[[Any], T]) -> T:
        """Run `change` on the aggregate and save it, one command per aggregate at a time here."""
        with self._writing.hold(aggregate_id):
            for attempt in range(CHANGE_ATTEMPTS):
                try:
                    return self._change_once(aggregate_id, start, change)
                except RecordConflictError:
                    if attempt + 1 < CHANGE_ATTEMPTS:
                        time.sleep(random.uniform(0, min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** attempt)))
            raise TooManyConflicts(f"{aggregate_id} kept changing elsewhere; nothing was saved")

    def _change_once(self, aggregate_id: UUID, start: Callable[[], Aggregate], change: Callable[[Any], T]) -> T:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)  # a private copy, from the cache
        except AggregateNotFoundError:
            aggregate = start()
        outcome = change(aggregate)  # a domain refusal raises here, and nothing is saved
        try:
            self.save(aggregate)
        except RecordConflictError:
            self.forget([aggregate_id])  # another replica changed it: reload it on retry
            raise
        return outcome

    def _change_together(self, aggregate_ids: tuple[UUID, ...],
                         change: Callable[..., tuple[T, list[Aggregate]]]) -> T:
        """`_change` for several aggregates saved in one transaction: `change` is given each one
        (None where it does not exist yet) and returns its outcome and the aggregates to save."""
        with ExitStack() as held:
            for aggregate_id in sorted(aggregate_ids):  # one order: two commands never wait on each other
                held.enter_context(self._writing.hold(aggregate_id))
            for attempt in range(CHANGE_ATTEMPTS):
                outcome, changed = change(*(self._checked_out_copy(i) for i in aggregate_ids))
                try:
                    if changed:
                        self.save(*changed)
                    return outcome
                except RecordConflictError:
                    self.forget(aggregate_ids)  # another replica changed one: reload them on retry
                    if attempt + 1 < CHANGE_ATTEMPTS:
                        time.sleep(random.uniform(0, min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** attempt)))
            raise TooManyConflicts(f"{', '.join(map(str, aggregate_ids))} kept changing elsewhere; nothing was saved")

    def _checked_out_copy(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)  # a private copy, from the cache
        except AggregateNotFoundError:
            return None

    def _stored(self, aggregate_id: UUID) -> Any:
        try:
            return self.read(aggregate_id)
        except AggregateNotFoundError:
            return None
