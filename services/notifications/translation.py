"""Inbound integration events -> the notification the care team is due, if any."""

from __future__ import annotations

from dataclasses import dataclass

from services.notifications.domain.disclosure import TEAM_ONLY, TEAM_ONLY_PART2
from services.notifications.domain.routing import Audience
from shared.contracts.base import Payload
from shared.contracts.careplan import (
    MedicationNoteAddedV1,
    PlanChangedV1,
    PrescribingDecisionRecordedV1,
)
from shared.contracts.intake import (
    CrisisContactRecordedV1,
    PersonRegisteredV1,
    ScreeningCompletedV1,
    ScreeningScoredV1,
    UrgentScreeningResultV1,
)


@dataclass(frozen=True)
class Notice:
    kind: str
    message: str
    urgent: bool = False
    audience: str = Audience.CARE_TEAM  # who, as data: domain/routing.py resolves it at delivery
    # The consent category of what the notice reveals (domain/disclosure.py): who outside the
    # team may be sent it. Team-only unless a category describes it safely.
    category: str = TEAM_ONLY
    named: tuple[str, ...] = ()  # members the audience names besides its roles (routing.recipients)


# What a plan change was, as the team reads it in a notice: kinds only, never the plan's words.
PLAN_CHANGE_WORDING = {
    "goal_set": "a goal was set", "goal_progress": "progress on a goal was recorded",
    "goal_status_changed": "a goal's status changed", "goal_sharing_marked": "the person chose how a goal is shared",
    "person_described": "the person's strengths or preferences were updated", "support_added": "a support was added",
    "support_ended": "a support ended", "support_sharing_marked": "the person chose how a support is shared",
    "setback_recorded": "a setback was recorded", "plan_reviewed": "the plan was reviewed",
    "agreement_recorded": "the person's agreement to the plan was recorded",
    "safety_plan_revised": "the safety plan was revised",
}

# A screening's domain, as the consent category that covers what its result reveals.
SCREENING_CATEGORIES = {"mental_health": "mental_health", "trauma": "mental_health",
                        "substance_use": "substance_use", "suicide_risk": "crisis"}


def notice_for(payload: Payload) -> Notice | None:
    """What to tell the team. Names the kind of record, never its clinical content."""
    match payload:
        case PersonRegisteredV1():
            return Notice("person_registered", f"A person was registered by {payload.agency}: welcome them to the team.",
                          category="general")
        case ScreeningCompletedV1(positive=True) | ScreeningScoredV1(positive=True):
            return Notice("screening_positive",
                          f"A {payload.instrument} screening was positive ({payload.band or 'see result'}): "
                          "review it with the person.", audience=Audience.COORDINATOR_AND_PLAN_MEMBERS,
                          category=SCREENING_CATEGORIES[payload.domain])
        case CrisisContactRecordedV1():
            return Notice("crisis_follow_up",
                          f"A {payload.kind.replace('_', ' ')} was recorded. Follow up with the person by "
                          f"{payload.follow_up_due.isoformat()}.", urgent=True,
                          category="crisis")
        case UrgentScreeningResultV1():
            return Notice("crisis", f"Urgent: a {payload.instrument} screening shows suicide risk. Reach the person "
                                    "today and follow their safety plan.", urgent=True,  # suicide_risk, high_risk
                          category="crisis")
        case MedicationNoteAddedV1(for_prescriber=True):
            about = ("The person made a choice about their medication" if payload.kind == "person_choice"
                     else "There is a question about the person's medication")
            return Notice("medication_note_for_prescriber",
                          f"{about}: read the collaboration note and talk it over with them.", audience=Audience.PRESCRIBERS,
                          category=TEAM_ONLY_PART2 if payload.part2 else TEAM_ONLY)
        case PrescribingDecisionRecordedV1():
            return Notice("prescribing_decision",
                          f"A prescribing decision ({payload.decision}) was recorded: see the person's medication notes.",
                          category=TEAM_ONLY_PART2 if payload.part2 else TEAM_ONLY)
        case PlanChangedV1():
            # Team only: a plan can hold substance-use goals, whatever the change's kind.
            what = PLAN_CHANGE_WORDING.get(payload.change, "the plan changed")
            return Notice("plan_changed", f"The person's care plan changed ({what}): see it with them.",
                          audience=Audience.COORDINATOR_AND_PLAN_MEMBERS, named=tuple(payload.named_members))
    return None  # answers recorded, negative or uncertain results: nothing to interrupt the team with
