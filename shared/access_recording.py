"""Access records stored in the service's own event store, group-committed, and read back.

A read is answered only once its record is committed (shared/recorded_reads.py), so recording
sits on every read's path: reads that arrive together are saved as one batch in one transaction
(shared/group_commit.py), each record a new aggregate, so a batch never conflicts with anything.
An in-memory or asynchronous audit sink would lose records on a crash; this one loses none: a
read whose record is not committed within the time allowed is not answered (503).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from uuid import UUID

from shared.access_records import Access, AccessRecord
from shared.eventstore import ServiceApplication
from shared.group_commit import GroupCommit
from shared.log_reading import RunSync
from shared.topics import stored_topics

log = logging.getLogger("carecoord.audit")

# How long a read waits for its record to commit before it is refused (503).
DEFAULT_RECORD_TIMEOUT = 5.0


class AccessNotRecorded(Exception):
    """The access could not be recorded (the store is unreachable, refused the write, or did not
    answer in time): the read must not be answered."""


class AccessRecorder:
    def __init__(self, run_sync: RunSync, application: ServiceApplication,
                 timeout: float = DEFAULT_RECORD_TIMEOUT,
                 observe_batch: Callable[[int], None] | None = None) -> None:
        self._application = application
        self._timeout = timeout
        self._commits: GroupCommit[Access, UUID] = GroupCommit(run_sync, self._record_batch,
                                                               observe_batch=observe_batch)

    async def record(self, access: Access) -> UUID:
        """The committed record's id, or AccessNotRecorded."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._commits.submit(access)
        except TimeoutError:
            # The batch may still commit later: a record of a read that was refused is harmless,
            # a read answered without its record is what must never happen.
            log.error("access not recorded in time", extra={"person_id": str(access.person_id),
                                                            "timeout_seconds": self._timeout})
            raise AccessNotRecorded(f"not recorded within {self._timeout} s") from None
        except Exception as error:  # noqa: BLE001 - whatever the store said, the read is not answered
            log.error("access not recorded", extra={"person_id": str(access.person_id),
                                                    "error_type": type(error).__name__})
            raise AccessNotRecorded(type(error).__name__) from error

    async def record_all(self, accesses: Sequence[Access]) -> list[UUID]:
        """Several reads at once (a page of the live stream: one per person), submitted together so
        that they share a batch: every committed record's id, or AccessNotRecorded if any was not
        (then none of what they stand for may be sent)."""
        results = await asyncio.gather(*(self.record(access) for access in accesses), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [result for result in results if isinstance(result, UUID)]

    def _record_batch(self, accesses: Sequence[Access]) -> list[UUID]:
        return record_accesses(self._application, accesses)


def record_accesses(application: ServiceApplication, accesses: Sequence[Access]) -> list[UUID]:
    """One transaction for all of them: the records are new aggregates, nothing to refuse. What
    the services' group commit runs, and what `carecoord audit` writes with (synchronous)."""
    records = [AccessRecord.of(access) for access in accesses]
    application.record_uncached(*records)
    return [record.id for record in records]


def recorded_accesses(application: ServiceApplication, person_id: UUID) -> list[AccessRecord]:
    """Every access record of this person's record in this service, oldest first.

    Reads the whole log's access records (their topic only) and keeps this person's: enough for
    an auditor's occasional question and for tests; a person's history through an index is the
    history endpoint's business. Synchronous: run it on the service's pool."""
    topics = stored_topics(AccessRecord.Recorded)
    found: list[AccessRecord] = []
    after = 0
    while notifications := application.recorder.select_notifications(after, 1000, topics=topics,
                                                                      inclusive_of_start=False):
        for notification in notifications:
            recorded = application.mapper.to_domain_event(notification)
            assert isinstance(recorded, AccessRecord.Recorded)
            if recorded.person_id == person_id and (record := recorded.mutate(None)) is not None:
                found.append(record)
        after = notifications[-1].id
    return found
