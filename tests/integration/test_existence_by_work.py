"""Refusing someone a record they may not see does the same work whether or not the person exists:
access is decided from the team or the consent directives alone, before the record is loaded.

Measured as work, not time: every read of the application's event store is counted (which
statement, and the topics of the events it returned)."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from shared.runtime import Service
from tests.integration.test_event_flow import PHQ9_WITH_SUICIDE_RISK, register
from tests.support.polling import eventually
from tests.support.system import System, bearer
from tests.support.teams import join_team

OUTSIDER = bearer("clinician", "kim-elsewhere")
AUNT = bearer("support_person", "aunt-rosa")  # the person has shared nothing with her
BROTHER = bearer("support_person", "brother-tomas")  # ...but has with him
MEMBER = bearer("care_coordinator", "casey")


class StoreReads:
    """Each read of an application's event store while counting: the method, and the topics of the
    events it returned (reads the recorder makes on behalf of the application)."""

    def __init__(self, service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads: list[tuple[str, tuple[str, ...]]] | None = None
        recorder = service.application.recorder
        for name in dir(recorder):
            if name.startswith("select_events") and inspect.ismethod(getattr(recorder, name)):
                monkeypatch.setattr(recorder, name, self._counting(name, getattr(recorder, name)))

    def _counting(self, name: str, select: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            events = list(select(*args, **kwargs))
            if self.reads is not None:
                self.reads.append((name, tuple(event.topic.rpartition(".")[2] for event in events)))
            return events
        return counted

    async def during(self, request: Callable[[], Awaitable[int]]) -> list[tuple[str, tuple[str, ...]]]:
        self.reads = []
        try:
            assert await request() == 404
            return self.reads
        finally:
            self.reads = None


async def _person_with_a_history(i, c, n) -> str:
    """Registered and screened, with a team, a plan and a directive for someone else, all arrived."""
    person_id = await register(i, f"work-{uuid.uuid4().hex[:6]}")
    for n_screening in range(6):
        response = await i.post(f"/people/{person_id}/screenings", headers={"Idempotency-Key": f"s-{n_screening}"},
                                json={"instrument": "PHQ-9", "answers": PHQ9_WITH_SUICIDE_RISK})
        assert response.status_code == 201, response.text
    await join_team(c, person_id, "casey", "care_coordinator", bearer("supervisor", "sam"))
    goal = await c.post(f"/people/{person_id}/plan/goals", headers=MEMBER,
                        json={"in_own_words": "Sleep through the night", "sharing_category": "general"})
    assert goal.status_code == 201, goal.text
    consent = await i.post(f"/people/{person_id}/consents", json={
        "recipient_kind": "named_person", "recipient_id": "brother-tomas", "categories": ["general"]})
    assert consent.status_code == 201, consent.text

    async def all_arrived() -> bool:
        notified = await n.get(f"/people/{person_id}/notifications", headers=MEMBER)
        timeline = await c.get(f"/people/{person_id}/timeline", headers=MEMBER)
        shared = await c.get(f"/people/{person_id}/shared", headers=BROTHER)
        return (notified.status_code == 200 and len(notified.json()["due"]) >= 6 and shared.status_code == 200
                and any(e["kind"] == "consent_granted" for e in timeline.json()["entries"]))

    await eventually(all_arrived, what="the history to reach careplan and notifications")
    return person_id


async def test_refusals_read_the_same_for_a_person_who_exists_and_one_who_does_not(system: System, monkeypatch):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications")
    async with (system.client(intake, "agency_system") as i, system.client(careplan) as c,
                system.client(notifications) as n):
        person_id = await _person_with_a_history(i, c, n)
        nobody = uuid.uuid4()
        notification_reads = StoreReads(notifications, monkeypatch)
        shared_reads = StoreReads(careplan, monkeypatch)

        async def notices(person) -> int:
            return (await n.get(f"/people/{person}/notifications", headers=OUTSIDER)).status_code

        async def shared(person) -> int:
            return (await c.get(f"/people/{person}/shared", headers=AUNT)).status_code

        for reads, request, deciding in (
            (notification_reads, notices, {"TeamMemberJoined", "TeamMemberLeft"}),
            (shared_reads, shared, {"ConsentNoted", "ConsentRevocationNoted"}),
        ):
            exists_not_yours = await reads.during(lambda: request(person_id))
            does_not_exist = await reads.during(lambda: request(nobody))
            assert [name for name, _ in exists_not_yours] == [name for name, _ in does_not_exist], request.__name__
            assert all(topics == () for _, topics in does_not_exist)
            # Only what decides access was read: never the notices, the timeline, the plan.
            read = {topic for _, topics in exists_not_yours for topic in topics}
            assert read and read <= deciding, (request.__name__, read)
