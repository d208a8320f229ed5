"""The aggregates, one per person, that a service builds from other services' events about them.

Plain Python on eventsourcing's domain model: the ordering rule lives here (a person's events from
one upstream stream are applied strictly by sequence, each exactly once). Applying them, with the
tracking that commits with each effect, is shared/following.py's FollowerApplication.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from shared.domain import UpstreamRef, check_next_in_sequence
from shared.part2 import Program
from shared.topics import register_former_topic


class PersonFollower(Aggregate):
    """Base for an aggregate, one per person, that follows upstream services' events."""

    if TYPE_CHECKING:  # The classes @event("...") defines as the class body runs, for mypy (fields unseen)
        UpstreamEventUnprocessable: ClassVar[type[Any]]

    # Set where the service keeps another aggregate under the person's own id.
    id_namespace: ClassVar[UUID | None] = None

    @classmethod
    def create_id(cls, person_id: UUID, **_: object) -> UUID:
        return uuid5(cls.id_namespace, str(person_id)) if cls.id_namespace else person_id

    def __init__(self, person_id: UUID) -> None:
        self.upstream_applied: dict[str, int] = {}
        # Per stream, the id of the event applied at each sequence: 16 bytes at (sequence - 1) * 16.
        # Sequences are gap-free from 1, and a person's history can be long while thousands of
        # followers stay cached, hence bytes rather than a dict of strings.
        self.applied_event_ids: dict[str, bytearray] = {}
        self.unprocessable: dict[str, str] = {}

    def check_next(self, upstream: UpstreamRef) -> None:
        check_next_in_sequence(self.upstream_applied, upstream.stream, upstream.sequence)

    def applied_event_id(self, stream: str, sequence: int) -> str | None:
        """The id of the event applied (or recorded as unprocessable) at `sequence`, if any."""
        ids = self.applied_event_ids.get(stream, b"")
        start = (sequence - 1) * 16
        return str(UUID(bytes=bytes(ids[start:start + 16]))) if 0 <= start < len(ids) else None

    def _advance(self, upstream: UpstreamRef) -> None:
        ids = self.applied_event_ids.setdefault(upstream.stream, bytearray())
        ids[(upstream.sequence - 1) * 16:] = UUID(upstream.event_id).bytes
        self.upstream_applied[upstream.stream] = upstream.sequence

    @event("UpstreamEventUnprocessable")
    def record_unprocessable(self, upstream: UpstreamRef, reason: str) -> None:
        # Only ever for an event whose publisher was authenticated as its source (see
        # shared/messaging.py: EventSources): it is the source's own event at that sequence, so
        # it does fill the place. It sits in the dead-letter queue; advancing past it keeps the
        # person's later events flowing, and this record keeps the gap visible in the history.
        self._advance(upstream)
        self.unprocessable[upstream.key] = reason


class TeamFollower(PersonFollower):
    """A follower that also knows the person's care team, from careplan's care-team stream."""

    # The events that change the team: enough to decide access without loading the rest.
    TEAM_EVENTS: ClassVar[tuple[str, ...]] = ("TeamMemberJoined", "TeamMemberLeft")

    @staticmethod
    def team_from(events: Sequence[Any]) -> dict[str, str]:
        """The team (member -> role) as these events of TEAM_EVENTS leave it, applied in order."""
        team: dict[str, str] = {}
        for membership in events:
            if type(membership).__name__ == "TeamMemberJoined":
                team[membership.member_id] = membership.role
            else:
                team.pop(membership.member_id, None)
        return team

    def __init__(self, person_id: UUID) -> None:
        super().__init__(person_id)
        self.team: dict[str, str] = {}
        self.programs: dict[str, Program] = {}  # member id -> their program, where one was given

    @event("CareTeamFormed")
    def care_team_formed(self, upstream: UpstreamRef) -> None:
        self._advance(upstream)

    @event("TeamMemberJoined")
    def team_member_joined(self, upstream: UpstreamRef, member_id: str, role: str,
                           program_id: str | None = None, program_kind: str | None = None) -> None:
        # Events stored before programs existed decode with the defaults: no program recorded.
        self._advance(upstream)
        self.team[member_id] = role
        if program_id is not None and program_kind is not None:
            self.programs[member_id] = Program(program_id, program_kind)
        else:
            self.programs.pop(member_id, None)

    @event("TeamMemberLeft")
    def team_member_left(self, upstream: UpstreamRef, member_id: str) -> None:
        self._advance(upstream)
        self.team.pop(member_id, None)
        self.programs.pop(member_id, None)


# Stored events name their class by topic, and these classes were first defined in
# shared/following.py: events stored then still resolve to them.
register_former_topic("shared.following:PersonFollower", PersonFollower)
register_former_topic("shared.following:TeamFollower", TeamFollower)
