"""The person's care team, and their timeline as the team sees it."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

from typing import Literal

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.careplan.deps import Access, Application, ServiceFoundation
from services.careplan.domain.medication import OnlySupervisorsAssignPrescribing
from services.careplan.domain.care_team import NeedsConsent, NotOnTeam, TeamRole, UnknownTeamRole, check_team_role
from shared.access import MissingRight, NotVisible, Principal, RecordContext, Right, authorize
from shared.contracts.fields import Identifier
from shared.http import CurrentPrincipal, RequestProvenance, invalid_field
from shared.part2 import Program, UnknownProgramKind, check_program
from shared.recorded_reads import RecordedRead


class TimelineEntryView(BaseModel):
    record_id: UUID | None = Field(None, description="The record the entry came from (after a merge, "
                                                     "the survivor's or a duplicate's)")
    source: str
    sequence: int
    kind: str = Field(description="What happened; `withheld` when the entry is withheld from this reader")
    summary: str
    occurred_at: datetime
    withheld: bool = Field(False, description=(
        "A substance-use record of a Part 2 program (42 CFR Part 2) that this reader, a member from "
        "another program, may see only once the person's consent names their program or the care team: "
        "kind and summary then say only that something is withheld, never what"))


class TimelineView(BaseModel):
    person_id: UUID
    entries: list[TimelineEntryView]


class AddTeamMember(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: str = Field(min_length=1, max_length=200, description="The member's user id (token subject)")
    role: TeamRole = Field(description="The member's role on this person's team")
    program_id: Identifier | None = Field(None, description=(
        "The program the member works in on this team (given with program_kind)"))
    program_kind: Literal["part2", "other"] | None = Field(None, description=(
        "`part2`: a substance-use program under 42 CFR Part 2; `other`: members from it see the person's "
        "substance-use records only as their consent names the program or the care team. "
        "None: no program (the team is the treating program)"))


class TeamMemberView(BaseModel):
    member_id: str
    role: str
    program_id: str | None = None
    program_kind: str | None = None
    joined_through_merge_of: UUID | None = Field(
        None, description="The duplicate record whose team they were on, when they joined as intake merged it")


class MembershipView(BaseModel):
    member_id: str
    role: str
    joined_at: datetime
    left_at: datetime | None
    program_id: str | None = None
    program_kind: str | None = None


class CareTeamView(BaseModel):
    person_id: UUID
    members: list[TeamMemberView]
    history: list[MembershipView] | None = Field(
        None, description="Who was on the team in which role, joined and left over time (on GET)")
    coordinators_to_choose_from: list[str] = Field(
        [], description="More than one care coordinator (as after a merge): both stay until a supervisor "
                        "keeps one, by changing the others' role or removing them")

    @classmethod
    def of(cls, person_id: UUID, team: dict[str, str], programs: dict[str, Program] | None = None,
           through_merge: dict[str, str] | None = None) -> CareTeamView:
        programs, through = programs or {}, through_merge or {}
        coordinators = sorted(m for m, r in team.items() if r == "care_coordinator")
        return cls(person_id=person_id, members=[
            TeamMemberView(member_id=m, role=r, program_id=programs[m].program_id if m in programs else None,
                           program_kind=programs[m].kind if m in programs else None,
                           joined_through_merge_of=UUID(through[m]) if m in through else None)
            for m, r in team.items()],
            coordinators_to_choose_from=coordinators if len(coordinators) > 1 else [])


router = APIRouter(prefix="/people", tags=["care team"])


@router.get("/{person_id}/timeline", response_model=TimelineView, tags=["timeline"])
async def get_timeline(person_id: UUID, principal: CurrentPrincipal, foundation: ServiceFoundation,
                       application: Application, authorized: Access, read: RecordedRead):
    async with read.of(person_id, "care timeline"):
        records = await authorized.records(principal, Right.READ_TIMELINE, person_id)
        entries = await foundation.run_sync(application.merged_timeline, records)
        if entries is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
        part2_shown = await foundation.run_sync(application.may_see_part2, person_id, principal.subject,
                                                datetime.now(timezone.utc))
        return TimelineView(person_id=person_id, entries=[
            TimelineEntryView(record_id=record, source=e.source, sequence=e.sequence, kind=e.kind, summary=e.summary,
                              occurred_at=e.occurred_at) if part2_shown or not e.part2 else
            TimelineEntryView(record_id=record, source=e.source, sequence=e.sequence, kind="withheld",
                              summary=WITHHELD_SUMMARY, occurred_at=e.occurred_at, withheld=True)
            for record, e in entries])


WITHHELD_SUMMARY = "Withheld: a Part 2 substance-use record; it is shown once the person's consent names your program"


@router.get("/{person_id}/team", response_model=CareTeamView)
async def get_care_team(person_id: UUID, principal: CurrentPrincipal, foundation: ServiceFoundation,
                        application: Application, authorized: Access, read: RecordedRead):
    async with read.of(person_id, "care team"):
        team = await authorized(principal, Right.READ_TIMELINE, person_id)
        history = await foundation.run_sync(application.team_history, person_id)
        programs = await foundation.run_sync(application.team_programs, person_id)
        through_merge = await foundation.run_sync(application.joined_through_merge, person_id)
        return CareTeamView.of(person_id, team, programs, through_merge).model_copy(update={"history": [
            MembershipView(member_id=p.member_id, role=p.role, joined_at=p.joined_at, left_at=p.left_at,
                           program_id=p.program.program_id if p.program else None,
                           program_kind=p.program.kind if p.program else None)
            for p in history]})


@router.post("/{person_id}/team", status_code=status.HTTP_201_CREATED, response_model=CareTeamView,
             summary="Add someone to the person's care team (200 if already on it in that role)",
             description="The answer lists the whole team only to a caller who may read it once the change "
                         "is made; a supervisor staffing a team they are not on sees only the member they set, "
                         "and 201 whether or not that member was already on it.")
async def add_team_member(
    person_id: UUID, body: AddTeamMember, provenance: RequestProvenance, response: Response,
    principal: CurrentPrincipal, foundation: ServiceFoundation, application: Application, authorized: Access,
):
    try:
        check_team_role(body.role)
    except UnknownTeamRole as error:
        raise invalid_field("role", str(error)) from None
    try:
        program = check_program(body.program_id, body.program_kind)
    except UnknownProgramKind as error:
        raise invalid_field("program_kind" if body.program_id else "program_id", str(error)) from None
    await authorized(principal, Right.MANAGE_TEAM, person_id)
    if not await foundation.run_sync(application.follows, person_id):
        # Only intake registers people: a team for anyone else would be a record of no one.
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    try:
        changed = await foundation.run_sync(application.add_team_member, person_id, body.member_id, body.role,
                                            provenance, program)
    except (NeedsConsent, OnlySupervisorsAssignPrescribing) as refusal:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(refusal)) from None
    team = await foundation.run_sync(application.care_team, person_id)
    if not may_read_team(principal, person_id, team):
        return CareTeamView.of(person_id, {body.member_id: body.role},
                               {body.member_id: program} if program else None)
    if not changed:
        response.status_code = status.HTTP_200_OK
    return CareTeamView.of(person_id, team, await foundation.run_sync(application.team_programs, person_id))


@router.delete("/{person_id}/team/{member_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Remove someone from the person's care team",
               description="404 unless the member is on a team the caller may read: a supervisor not on "
                           "the team joins it first, so that membership is never told to someone who cannot "
                           "see the team.")
async def remove_team_member(
    person_id: UUID, member_id: str, provenance: RequestProvenance,
    principal: CurrentPrincipal, foundation: ServiceFoundation, application: Application, authorized: Access,
) -> Response:
    team = await authorized(principal, Right.MANAGE_TEAM, person_id)
    if member_id not in team or not may_read_team(principal, person_id, team):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    try:
        await foundation.run_sync(application.remove_team_member, person_id, member_id, provenance)
    except NotOnTeam:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found") from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def may_read_team(principal: Principal, person_id: UUID, team: dict[str, str]) -> bool:
    """Whether the caller may read this team as it is: managing a team (a supervisor may staff any)
    is not reading it."""
    try:
        authorize(principal, Right.READ_TIMELINE, RecordContext(person_id, frozenset(team)))
    except (MissingRight, NotVisible):
        return False
    return True
