"""A person's care team: who is on it, in which role, joined and left over time.

Membership decides who may see the person's record in every service, so the team's events are
published (carecoord.careplan.care_team.*) and every service keeps its own view of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args
from uuid import UUID, uuid5

from eventsourcing.domain import event

from shared.domain import Provenance
from shared.part2 import Program, check_program
from shared.person_aggregate import PersonAggregate, command

CARE_TEAM_NAMESPACE = UUID("3b0f8f61-1a52-4c8e-9d7a-5e2c4b1f0a77")

TeamRole = Literal[
    "care_coordinator", "clinician", "prescriber", "physician", "nurse_practitioner", "peer_specialist",
    "case_manager", "supervisor", "family_or_natural_support",
]
TEAM_ROLES: tuple[str, ...] = get_args(TeamRole)


class UnknownTeamRole(ValueError):
    pass


class NotOnTeam(LookupError):
    pass


class NeedsConsent(PermissionError):
    """Family and natural supports join a team only with the person's consent naming them."""


FAMILY_OR_SUPPORT = "family_or_natural_support"


def check_team_role(role: str) -> None:
    if role not in TEAM_ROLES:
        raise UnknownTeamRole(f"unknown team role {role!r}; known: {', '.join(TEAM_ROLES)}")


@dataclass(frozen=True)
class Membership:
    """One period on the team in one role (a change of role ends one period and starts another)."""

    member_id: str
    role: str
    joined_at: datetime
    left_at: datetime | None = None
    program: Program | None = None  # the program they work in on this team (shared/part2.py)

    def ended(self, at: datetime) -> Membership:
        return replace(self, left_at=at)


def memberships(team_events: Iterable[Any]) -> list[Membership]:
    """Who was on the team in which role, from when until when (None: still on it), from the care
    team's events in order (all of them: the team now; those up to a moment: the team then)."""
    periods: list[Membership] = []
    for event in team_events:
        joined = isinstance(event, (CareTeam.MemberJoined, CareTeam.MemberJoinedThroughMerge))
        if joined or isinstance(event, CareTeam.MemberLeft):
            periods = [p if p.member_id != event.member_id or p.left_at else p.ended(event.timestamp)
                       for p in periods]
        if joined:
            periods.append(Membership(event.member_id, event.role, event.timestamp,
                                      program=check_program(event.program_id, event.program_kind)))
    return periods


class CareTeam(PersonAggregate):
    if TYPE_CHECKING:  # The classes @event("...") defines as the class body runs, for mypy (fields unseen)
        Formed: ClassVar[type[Any]]
        MemberLeft: ClassVar[type[Any]]
        MemberJoinedThroughMerge: ClassVar[type[Any]]

    class MemberJoined(PersonAggregate.Event):
        """Joined, or changed role or program. Version 2 adds the member's program (None: none given)."""

        member_id: str
        role: str
        program_id: str | None
        program_kind: str | None
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Members staffed before programs existed: none recorded (they see what the team saw).
            state["program_id"] = None
            state["program_kind"] = None

    @staticmethod
    def create_id(person_id: UUID, **_: object) -> UUID:
        return uuid5(CARE_TEAM_NAMESPACE, str(person_id))

    @event("Formed")
    def __init__(self, person_id: UUID, provenance: Provenance) -> None:
        self.person_id = person_id
        self.members: dict[str, str] = {}
        self.programs: dict[str, Program] = {}  # member id -> program, for members who gave one
        # Members who came onto this team from a duplicate's team when intake merged the two
        # records: member -> the duplicate's id, until they leave or their role is changed by hand.
        self.joined_through_merge: dict[str, str] = {}

    @command
    def add_member(self, member_id: str, role: str, provenance: Provenance, consented: bool = False,
                   program: Program | None = None) -> bool:
        """Add someone to the team (or change their role or program). False if nothing changed.

        `consented`: a consent directive in force names this member (needed for family and supports).
        `program`: the program they work in (shared/part2.py); None: none recorded.
        """
        check_team_role(role)
        if role == FAMILY_OR_SUPPORT and not consented:
            raise NeedsConsent(f"{member_id} joins as family or natural support only with the person's consent: "
                               "record a consent directive naming them first")
        if self.members.get(member_id) == role and self.programs.get(member_id) == program:
            return False
        self._member_joined(member_id, role, program.program_id if program else None,
                            program.kind if program else None)
        return True

    @command
    def remove_member(self, member_id: str, provenance: Provenance) -> None:
        if member_id not in self.members:
            raise NotOnTeam(f"{member_id} is not on this care team")
        self._member_left(member_id)

    @command
    def join_from_merged_team(self, duplicate_id: str, duplicate_team: dict[str, str], provenance: Provenance,
                              programs: dict[str, Program] | None = None) -> bool:
        """The merge rule for two teams: the survivor's team becomes the union of both. Someone on
        both keeps their role here (the survivor's record stays current); everyone else joins in
        their role on the duplicate's team, recorded as joined through the merge. Two coordinators
        both stay: a supervisor chooses one (see `coordinators_to_choose_from`). False: nothing new."""
        joined = False
        for member_id, role in duplicate_team.items():
            if member_id not in self.members:
                program = (programs or {}).get(member_id)
                self._member_joined_through_merge(member_id, role, duplicate_id, program.program_id if program else None,
                                                  program.kind if program else None)
                joined = True
        return joined

    @command
    def leave_with_undone_merge(self, duplicate_id: str, provenance: Provenance) -> list[str]:
        """Undoing a merge: those who joined through it, and are still on the team as they joined,
        leave (they stay on the duplicate's own team). Whoever was added after the merge stays."""
        leaving = [member for member, through in self.joined_through_merge.items() if through == duplicate_id]
        for member_id in leaving:
            self._member_left(member_id)
        return leaving

    def coordinators_to_choose_from(self) -> list[str]:
        """More than one care coordinator (as after merging two records): a supervisor keeps one
        by changing the others' role or removing them. Empty when there is nothing to choose."""
        coordinators = sorted(member for member, role in self.members.items() if role == "care_coordinator")
        return coordinators if len(coordinators) > 1 else []

    @event(MemberJoined)
    def _member_joined(self, member_id: str, role: str, program_id: str | None, program_kind: str | None) -> None:
        self.members[member_id] = role
        if program_id is not None and program_kind is not None:
            self.programs[member_id] = Program(program_id, program_kind)
        else:
            self.programs.pop(member_id, None)
        self.joined_through_merge.pop(member_id, None)  # their place on the team is now by hand

    @event("MemberJoinedThroughMerge")
    def _member_joined_through_merge(self, member_id: str, role: str, duplicate_id: str, program_id: str | None,
                                     program_kind: str | None) -> None:
        self.members[member_id] = role
        if program_id is not None and program_kind is not None:
            self.programs[member_id] = Program(program_id, program_kind)
        self.joined_through_merge[member_id] = duplicate_id

    @event("MemberLeft")
    def _member_left(self, member_id: str) -> None:
        del self.members[member_id]
        self.programs.pop(member_id, None)
        self.joined_through_merge.pop(member_id, None)

    def program_of(self, member_id: str) -> Program | None:
        return self.programs.get(member_id)
