"""Group commit: work submitted concurrently is run in batches, one transaction per batch.

A PostgreSQL commit costs a disk flush and eventsourcing takes a table lock per save, so saving
one event per transaction caps a service at a few hundred events a second. Here the first
submission starts a batch at once (no added latency when idle); whatever arrives while that batch
is in the database forms the next one, so batches grow exactly as fast as load does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from shared.relay import RunSync

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self,
        run_sync: RunSync,
        process_batch: Callable[[Sequence[Item]], Sequence[Result | Exception]],
        max_batch: int = 200,
        observe_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._run_sync = run_sync
        self._process_batch = process_batch
        self._max_batch = max_batch
        self._observe_batch = observe_batch  # the batch-size histogram (shared/metrics.py)
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Run `item` in the next batch; return its result or raise its exception."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            if self._observe_batch is not None:
                self._observe_batch(len(batch))
            try:
                results: Sequence[Result | Exception] = await self._run_sync(
                    self._process_batch, [item for item, _ in batch]
                )
            except Exception as error:  # noqa: BLE001 - the whole batch failed: each submitter hears why
                results = [error] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the submitter went away; its work stands
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)


def outcomes_until_a_failure(items: Sequence[Item], run: Callable[[Item], Result],
                             failed: dict[int, Exception],
                             failure: Callable[[Item, Exception], Exception]) -> list[Result | Exception] | None:
    """Each item's outcome by `run`, the items in `failed` keeping theirs; None as soon as one
    raises, its error (as `failure` makes it) then added to `failed`.

    An item that raised may have changed its aggregate half-way (an event triggered, its sequel
    not), and a later item may already have built on that: the caller drops the whole pass (its
    aggregates were checked out of the cache, so the half-change goes with it) and runs the batch
    again from the store without the failed item. Each pass fails one more item, or ends.
    """
    outcomes: list[Result | Exception] = []
    for index, item in enumerate(items):
        if index in failed:
            outcomes.append(failed[index])
            continue
        try:
            outcomes.append(run(item))
        except Exception as error:  # noqa: BLE001 - one item's failure must not fail the batch
            failed[index] = failure(item, error)
            return None
    return outcomes
