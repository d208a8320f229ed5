"""Sending webhooks: asyncio workers over the delivery lanes (domain/delivery.py).

Which lanes have work is found in the store, never kept only in memory: at start, every lane ever
queued is read from the notification log and checked; afterwards the log (woken by LISTEN/NOTIFY)
and, in-process, the matcher and replays say which lanes got work. Each lane's head is sent when
its due time (stored on its events) comes; a lane has at most one request in flight, lanes run in
parallel, and each subscription has a bounded number of requests in flight for its routine lanes
and as many again for its urgent ones: a slow receiver holds up only its own routine items.

Every send is checked at that moment against the owner's access (`WebhookSubscriptions.refusal`,
in delivery/send_decisions.py); refused, the item is suppressed with the reason. Requests time out
(10 s), never follow redirects (a redirect could lead inward: delivery/http_client.py), and each
attempt is recorded with its status or error and latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from uuid import UUID

from services.notifications.delivery.addresses import AddressPolicy, AddressRefused
from services.notifications.delivery.due_lanes import DueLanes
from services.notifications.delivery.http_client import Answer, HTTPError, WebhookClient
from services.notifications.delivery.metrics import WebhookMetrics
from services.notifications.delivery.send_decisions import Later, Send, SendDecisions
from services.notifications.delivery.settings import WebhookSettings
from services.notifications.domain.delivery import AttemptOutcome, DeliveryLane
from services.notifications.subscriptions_app import WebhookSubscriptions
from shared.group_commit import GroupCommit
from shared.hop_marks import mark, marking
from shared.log_reading import LogReader, RunSync
from shared.topics import stored_topics

log = logging.getLogger(__name__)

LANE_TOPICS = frozenset(topic for event_class in (DeliveryLane.Queued, DeliveryLane.Requeued)
                        for topic in stored_topics(event_class))
MAX_RETRY_AFTER = 24 * 3600.0  # a receiver asking for longer is retried after a day anyway
IDLE_CHECK = 1.0  # seconds: how often due times are looked at when nothing wakes the dispatcher


class WebhookDispatcher:
    """A log tailer of the service (shared/runtime.py: Service.log_tailers)."""

    name = "notifications-webhook-dispatch"

    def __init__(self, webhooks: WebhookSubscriptions, settings: WebhookSettings, reader: LogReader,
                 run_sync: RunSync, clock: Callable[[], float] = time.time,
                 metrics: WebhookMetrics | None = None) -> None:
        self.webhooks = webhooks
        self._settings = settings
        self._reader = reader
        self._run_sync = run_sync
        self._clock = clock
        self._policy = AddressPolicy(settings.webhook_allow_loopback_http, settings.webhook_allow_private_networks)
        self._due = DueLanes()  # lane -> when to look at it next; only the due ones are ever visited
        self._running: dict[UUID, asyncio.Task[None]] = {}
        self._again: set[UUID] = set()  # lanes that became due while their worker ran
        self._told: set[int] = set()  # log positions of lane events nudged in-process, not read yet
        self._slots: dict[tuple[UUID, bool], asyncio.Semaphore] = {}
        self._news = asyncio.Event()  # the log has new lane events
        self._kick = asyncio.Event()  # a lane became due, or a worker finished
        self._client: WebhookClient | None = None
        decisions = SendDecisions(webhooks, settings, self._due, metrics)
        # The pool's work of concurrent sends, batched (shared/group_commit.py): the first reads of
        # lanes that became due, and the attempts that finished, each batch in one hop.
        self._first_sends: GroupCommit[UUID, Send | Later] = GroupCommit(run_sync, decisions.first_sends_of)
        # Urgent lanes (and lanes not read yet) have batches of their own: a crisis's first read
        # does not wait for a batch of routine lanes in the database, nor share its work.
        self._urgent_first_sends: GroupCommit[UUID, Send | Later] = GroupCommit(run_sync, decisions.first_sends_of)
        self._attempts: GroupCommit[tuple[Send, AttemptOutcome, float | None], Send | Later] = GroupCommit(
            run_sync, decisions.record_and_go_on)

    def wake(self, topics: frozenset[str] | None = None) -> None:
        if topics is None or not LANE_TOPICS.isdisjoint(topics):
            self._news.set()

    def nudge(self, lanes: Iterable[UUID], positions: Iterable[int] = ()) -> None:
        """These lanes have new work (called in-process by the matcher and by replays), given by
        the lane events at these log positions: reading the log, the dispatcher skips them (at
        100 notices/s each delivery was otherwise looked at twice: a lane read and a hop more)."""
        now = self._clock()
        self._told.update(positions)
        for lane in lanes:
            self._schedule(lane, now)

    def wake_up(self) -> None:
        """Look at due times now (a test that moved its clock, a subscription enabled again)."""
        self._kick.set()

    async def run(self) -> None:
        self._client = WebhookClient(self._policy)
        try:
            await asyncio.gather(self._discover(), self._dispatch())
        finally:
            for task in list(self._running.values()):
                task.cancel()
            for task in list(self._running.values()):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._client.aclose()
            await self._reader.close()

    def _schedule(self, lane: UUID, at: float) -> None:
        self._due.schedule(lane, at)
        self._kick.set()

    async def _discover(self) -> None:
        """Every lane with queued work, from the log: all of it at start, then what is new."""
        position, failures = 0, 0
        while True:
            self._news.clear()
            try:
                batch, read_to = await self._reader.read(position, 1000, sorted(LANE_TOPICS))
                failures = 0
            except Exception as error:  # noqa: BLE001 - the database may be away: wait, retry
                failures += 1
                log.warning("webhook dispatch could not read the log (%s)", type(error).__name__)
                await asyncio.sleep(min(0.1 * 2**failures, 5.0))
                continue
            told = self._told
            self.nudge({UUID(str(n.originator_id)) for n in batch if n.id not in told})
            if told:  # every lane event up to read_to was in the batch: none is looked for again
                self._told = {p for p in told if p > read_to}
            position = read_to
            if not batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._news.wait(), timeout=IDLE_CHECK)

    async def _dispatch(self) -> None:
        while True:
            try:
                await self._dispatch_due()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - never let one bad turn stop delivery
                log.exception("webhook dispatch failed (%s); going on", type(error).__name__)
                await asyncio.sleep(1.0)

    async def _dispatch_due(self) -> None:
        """Start a worker for every lane now due, urgent ones first; wait until the next is due
        or news arrives. Lanes not due are never looked at (a heap of due times)."""
        self._kick.clear()
        now = self._clock()
        for lane in self._due.pop_due(now):
            if lane in self._running:
                self._again.add(lane)  # its worker may have read the lane before this work came
            else:
                self._running[lane] = asyncio.create_task(self._work(lane), name=f"webhook-lane-{lane}")
        next_due = self._due.next_due()
        timeout = IDLE_CHECK if next_due is None else min(IDLE_CHECK, max(next_due - now, 0.01))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._kick.wait(), timeout=timeout)

    async def _work(self, lane_id: UUID) -> None:
        try:
            await self._send_lane(lane_id)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - a database failure: look again a little later
            log.warning("webhook lane %s failed (%s); retrying", lane_id, type(error).__name__)
            self._schedule(lane_id, self._clock() + 5.0)
        finally:
            self._running.pop(lane_id, None)
            if lane_id in self._again:
                self._again.discard(lane_id)
                self._due.schedule(lane_id, self._clock())
            self._kick.set()

    async def _send_lane(self, lane_id: UUID) -> None:
        """Send the lane's items in order while they are due and deliverable.

        Two hops to the pool per delivery, each shared with the other lanes' (group commits): one
        decides and signs the next sends (send_decisions.py: the lanes' heads and the people's
        access read with one query each), one records the attempts in one transaction and decides
        the sends after them from the lanes as saved (`SendDecisions.record_and_go_on`)."""
        first_sends = self._first_sends if self._due.is_routine(lane_id) else self._urgent_first_sends
        step = await first_sends.submit(lane_id)
        while isinstance(step, Send):
            head, subscription = step.head, step.subscription
            if head.urgent and marking():
                mark("signed", head.person_id)
            slots = self._slots.setdefault((subscription.id, head.urgent),
                                           asyncio.Semaphore(self._settings.webhook_concurrency))
            async with slots:
                outcome, retry_after = await self._post(subscription.url, step.data, step.headers)
            step = await self._attempts.submit((step, outcome, retry_after))
        if step.at is not None:
            self._schedule(lane_id, step.at)


    async def _post(self, url: str, data: bytes, headers: dict[str, str]) -> tuple[AttemptOutcome, float | None]:
        """One attempt, bounded as a whole (resolving, connecting, sending, the answer's status and
        headers, a small body read to its end so the connection is kept) by the timeout."""
        assert self._client is not None
        started = time.perf_counter()
        answered: tuple[AttemptOutcome, float | None] | None = None

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        def heard(answer: Answer) -> None:
            nonlocal answered
            answered = AttemptOutcome(answer.status_code, None, elapsed()), retry_after(answer)
        try:
            async with asyncio.timeout(self._settings.webhook_timeout):
                self._policy.check_url(url)  # the addresses its host resolves to: at connect time
                await self._client.post(url, data, headers, heard)
                assert answered is not None
                return answered
        except AddressRefused as refused:
            return AttemptOutcome(None, f"address refused: {refused}", elapsed()), None
        except TimeoutError:
            return answered or (AttemptOutcome(None, "timeout", elapsed()), None)
        except HTTPError as error:
            return answered or (AttemptOutcome(None, f"request failed: {type(error).__name__}", elapsed()), None)


def retry_after(response: Answer) -> float | None:
    """The receiver's Retry-After (seconds or an HTTP date) on a failure, bounded."""
    value = response.headers.get("retry-after")
    if value is None or response.is_success:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
