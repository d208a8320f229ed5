"""Events careplan publishes. Routing keys: `careplan.care_team.<event>`."""

from __future__ import annotations

from typing import ClassVar

from shared.contracts.base import Payload


class CareTeamFormedV1(Payload):
    """A care team was formed for a person (the first event of their care-team stream)."""

    event_type: ClassVar[str] = "carecoord.careplan.care_team.formed"
    version: ClassVar[int] = 1


class TeamMemberJoinedV1(Payload):
    """Someone joined the person's care team, or their role on it changed."""

    event_type: ClassVar[str] = "carecoord.careplan.care_team.member_joined"
    version: ClassVar[int] = 1

    member_id: str
    role: str


class TeamMemberLeftV1(Payload):
    """Someone left the person's care team: from now on they no longer see the person's record."""

    event_type: ClassVar[str] = "carecoord.careplan.care_team.member_left"
    version: ClassVar[int] = 1

    member_id: str


PAYLOADS: tuple[type[Payload], ...] = (CareTeamFormedV1, TeamMemberJoinedV1, TeamMemberLeftV1)
