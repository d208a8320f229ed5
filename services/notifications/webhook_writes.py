"""How webhook subscriptions and their delivery lanes are changed and saved.

Writes to subscriptions and lanes hold a lock per aggregate, taken in sorted order, so the matcher
(up to 200 lanes at once) and the dispatcher (one lane) in this process wait for each other
instead of failing each other's save on the version over and over; another replica can still
conflict, and the retry on what is stored stays for that.

The base of WebhookSubscriptions' mixins; WebhookSubscriptions creates the locks (`_write_locks`)
and keeps the settings that `saved` clears.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from services.notifications.application import NotificationsApplication
from shared.eventstore import KeyedThreadLocks

SAVE_ATTEMPTS = 8


class WebhookWrites:
    application: NotificationsApplication
    saved: Callable[[Iterable[UUID]], None]
    _write_locks: KeyedThreadLocks  # per subscription or lane

    def _change(self, ids: Sequence[UUID], change: Callable[[list[Any]], None]) -> list[Any]:
        """Change these (existing) aggregates and save them together, retried on what is stored
        when another writer (a replica) saved one of them meanwhile."""
        with self.holding(ids):
            for _ in range(SAVE_ATTEMPTS):
                found = self.application.check_out_many(ids)
                aggregates = [found[i] for i in ids]
                change(aggregates)
                try:
                    self.application.record(*aggregates)
                    self.saved(ids)
                    return aggregates
                except IntegrityError:
                    self.application.forget(ids)
        raise RuntimeError("could not save: kept conflicting with other writers")

    @contextlib.contextmanager
    def holding(self, ids: Iterable[UUID]) -> Iterator[None]:
        """The write locks of these aggregates, taken in sorted order so that two writers never
        wait for each other in a circle."""
        with contextlib.ExitStack() as held:
            for aggregate_id in sorted(set(ids)):
                held.enter_context(self._write_locks.hold(aggregate_id))
            yield
