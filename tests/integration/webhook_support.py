"""Shared steps of the webhook tests: services started with fast retries, a person with a team."""

from __future__ import annotations

from typing import Any

from tests.integration.test_event_flow import register
from tests.support.polling import eventually
from tests.support.system import System, bearer
from tests.support.teams import join_team

SUPERVISOR = bearer("supervisor", "sam-supervisor")
CASEY = bearer("care_coordinator", "casey")
PHQ9_WITH_SUICIDE_RISK = {"item1": 2, "item2": 2, "item3": 1, "item4": 2, "item5": 1, "item6": 1, "item7": 1,
                          "item8": 0, "item9": 1}
FAST = {"webhook_allow_loopback_http": True, "webhook_routine_retry_delays": (0.2, 0.3, 0.3),
        "webhook_urgent_retry_delays": (0.1, 0.1, 0.1), "webhook_public_base_url": "https://notifications.example"}


async def start(system: System, **overrides: Any):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications", **{**FAST, **overrides})
    return intake, careplan, notifications


async def person_with_team(system: System, intake, careplan, notifications, agency_person_id: str,
                           members: tuple[str, ...] = ("casey",)) -> str:
    """A registered person whose team notifications knows (each member reads their notices)."""
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c, \
            system.client(notifications) as n:
        person_id = await register(i, agency_person_id)
        for member in members:
            await join_team(c, person_id, member, "care_coordinator", SUPERVISOR)

            async def known(member: str = member) -> bool:
                response = await n.get(f"/people/{person_id}/notifications",
                                       headers=bearer("care_coordinator", member))
                return response.status_code == 200 and len(response.json()["due"]) >= 1
            await eventually(known, what=f"notifications to know {member} is on the team")
    return person_id


async def screen(system: System, intake, person_id: str, instrument: str = "PHQ-9",
                 answers: dict[str, int] | None = None, headers: dict[str, str] | None = None) -> None:
    async with system.client(intake, "agency_system") as i:
        response = await i.post(f"/people/{person_id}/screenings", headers=headers,
                                json={"instrument": instrument, "answers": answers or PHQ9_WITH_SUICIDE_RISK})
        assert response.status_code == 201, response.text
