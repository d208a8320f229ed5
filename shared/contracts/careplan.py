"""Events careplan publishes. Routing keys: `careplan.care_team.<event>`, `careplan.medication.<event>`,
`careplan.crisis_follow_ups.<event>`, `careplan.plan_changes.<event>`.

Ids and kinds only: what a note says stays in careplan, for those who may read it there.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from shared.contracts.base import Payload


class CareTeamFormedV1(Payload):
    """A care team was formed for a person (the first event of their care-team stream)."""

    event_type: ClassVar[str] = "carecoord.careplan.care_team.formed"
    version: ClassVar[int] = 1


class TeamMemberJoinedV1(Payload):
    """Someone joined the person's care team, or their role or program on it changed.

    `program_id` and `program_kind` (added within version 1, both or neither): the program the
    member works in; `part2` for a substance-use program under 42 CFR Part 2. Members from
    another program are sent substance-use information only as the person's consent names their
    program or the care team. None: no program recorded (the team is the treating program)."""

    event_type: ClassVar[str] = "carecoord.careplan.care_team.member_joined"
    version: ClassVar[int] = 1

    member_id: str
    role: str
    program_id: str | None = None
    program_kind: Literal["part2", "other"] | None = None
    joined_through_merge_of: UUID | None = Field(
        default=None, description="Set when they came from a duplicate record's team as intake merged the two")


class TeamMemberLeftV1(Payload):
    """Someone left the person's care team: from now on they no longer see the person's record."""

    event_type: ClassVar[str] = "carecoord.careplan.care_team.member_left"
    version: ClassVar[int] = 1

    member_id: str


class MedicationRecordOpenedV1(Payload):
    """The person's medication collaboration record was opened (the first event of its stream)."""

    event_type: ClassVar[str] = "carecoord.careplan.medication.record_opened"
    version: ClassVar[int] = 1


class MedicationNoteAddedV1(Payload):
    """A collaboration note was added. `for_prescriber` when it is a question for the prescriber
    or the person's own choice (declining, disagreeing, stopping), which the prescriber must hear."""

    event_type: ClassVar[str] = "carecoord.careplan.medication.note_added"
    version: ClassVar[int] = 1

    note_id: str
    kind: str
    choice: str | None
    for_prescriber: bool
    part2: bool = Field(False, description=(
        "Written by a member of a Part 2 substance-use program (42 CFR Part 2); added within version 1"))


class PrescribingDecisionRecordedV1(Payload):
    """A prescriber recorded a decision (start, change, stop, dose)."""

    event_type: ClassVar[str] = "carecoord.careplan.medication.prescribing_decision_recorded"
    version: ClassVar[int] = 1

    decision_id: str
    decision: str
    discussed_with_person: bool
    part2: bool = Field(False, description=(
        "Recorded by a member of a Part 2 substance-use program (42 CFR Part 2); added within version 1"))


class CrisisFollowUpRecordedV1(Payload):
    """Someone on the team followed up a crisis contact (`contact_id`, from intake's
    `crisis_contact_recorded`): its escalating follow-up is closed. The note stays in careplan."""

    event_type: ClassVar[str] = "carecoord.careplan.crisis_follow_ups.recorded"
    version: ClassVar[int] = 1

    contact_id: str
    followed_up_on: date


class PlanChangedV1(Payload):
    """The person's care plan or safety plan changed: what kind of change (`goal_set`,
    `goal_progress`, `goal_status_changed`, `goal_sharing_marked`, `person_described`,
    `support_added`, `support_ended`, `support_sharing_marked`, `setback_recorded`,
    `plan_reviewed`, `agreement_recorded`, `safety_plan_revised`), the id of what changed (a goal,
    support, setback or review id, a safety plan version; None for the plan as a whole), and the
    team members the change names (a support's provider on the team). The plans' words stay in
    careplan."""

    event_type: ClassVar[str] = "carecoord.careplan.plan_changes.changed"
    version: ClassVar[int] = 1

    change: str
    item_id: str | None = None
    named_members: list[str] = []


PAYLOADS: tuple[type[Payload], ...] = (
    CareTeamFormedV1, TeamMemberJoinedV1, TeamMemberLeftV1, MedicationRecordOpenedV1, MedicationNoteAddedV1,
    PrescribingDecisionRecordedV1, CrisisFollowUpRecordedV1, PlanChangedV1,
)
