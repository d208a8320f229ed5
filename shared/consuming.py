"""Applying upstream events to a following service, one person at a time, in delivery order.

aiormq runs each delivery in its own task, so up to `prefetch` messages are handled at once.
A per-person lock, taken in delivery order, keeps one person's events sequential while different
people proceed in parallel. The sequence check in the domain is the safety net: an event that
still arrives early is retried, never applied out of order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from shared.contracts.base import Payload
from shared.contracts.careplan import CareTeamFormedV1, TeamMemberJoinedV1, TeamMemberLeftV1
from shared.domain import UpstreamRef
from shared.envelope import AnyIntegrationEvent
from shared.following import FollowerApplication, Unprocessable, UpstreamChange
from shared.group_commit import GroupCommit
from shared.hop_marks import is_crisis_event, mark, marking
from shared.messaging import parse_payload, upstream_ref
from shared.relay import RunSync
from shared.telemetry import correlation_id_var

# What one upstream event does to the person's follower aggregate (the change runs in a worker thread).
ChangeFor = Callable[[UpstreamRef, Payload, datetime], UpstreamChange]


class KeyedLocks:
    """FIFO locks by key, forgotten when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


class PersonEventConsumer:
    """Turns each delivered event into a change of the person's follower, committed in groups."""

    def __init__(self, run_sync: RunSync, application: FollowerApplication, change_for: ChangeFor,
                 observe_batch: Callable[[int], None] | None = None) -> None:
        self._change_for = change_for
        self._application = application
        self._locks = KeyedLocks()
        self._commits: GroupCommit[UpstreamChange, bool] = GroupCommit(
            run_sync, application.apply_upstream_batch, observe_batch=observe_batch)

    async def __call__(self, event: AnyIntegrationEvent) -> None:
        upstream = upstream_ref(event)
        correlation_id_var.set(event.correlation_id)  # this delivery's task: its logs carry the flow's id
        marked = marking() and is_crisis_event(event.type)
        if marked:
            mark("delivered", upstream.person_id)
        # Held until the change is committed: the person's next event waits for this one.
        async with self._locks.hold(upstream.person_id):
            try:
                payload = parse_payload(event)
            except Unprocessable as error:
                # Its publisher was authenticated as its source (follower_router), so it is the
                # source's own event at this sequence: recorded as a visible gap, then dead-lettered.
                await self._commits.submit(self._application.unprocessable(upstream, str(error)))
                raise
            await self._commits.submit(self._change_for(upstream, payload, event.occurred_at))
            if marked:
                mark("committed", upstream.person_id)


def team_change(upstream: UpstreamRef, payload: Payload) -> UpstreamChange | None:
    """The change a care-team event makes to a TeamFollower, or None if it is not one."""
    match payload:
        case CareTeamFormedV1():
            return UpstreamChange(upstream, lambda f: f.care_team_formed(upstream))
        case TeamMemberJoinedV1():
            return UpstreamChange(upstream, lambda f: f.team_member_joined(
                upstream, payload.member_id, payload.role, payload.program_id, payload.program_kind))
        case TeamMemberLeftV1():
            return UpstreamChange(upstream, lambda f: f.team_member_left(upstream, payload.member_id))
    return None
