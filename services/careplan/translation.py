"""Careplan's two vocabularies meet here: inbound integration events -> timeline entries, and
careplan's own domain events -> the integration events it publishes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from services.careplan.domain.care_team import CareTeam
from services.careplan.domain.crisis_follow_ups import CrisisFollowUps
from services.careplan.domain.medication import FOR_PRESCRIBER, MedicationCollaboration
from services.careplan.domain.plan_changes import PlanChanges
from services.careplan.domain.timeline import Timeline
from shared.domain import UpstreamRef
from shared.contracts.base import Payload
from shared.contracts.careplan import (
    CareTeamFormedV1,
    CrisisFollowUpRecordedV1,
    MedicationNoteAddedV1,
    MedicationRecordOpenedV1,
    PlanChangedV1,
    PrescribingDecisionRecordedV1,
    TeamMemberJoinedV1,
    TeamMemberLeftV1,
)
from shared.contracts.intake import (
    ConsentGrantedV1,
    ConsentRevokedV1,
    CrisisContactRecordedV1,
    PersonDetailsAmendedV1,
    PersonMergedIntoV1,
    PersonMergedV1,
    PersonMergeUndoneV1,
    PersonRegisteredV1,
    ScreeningCompletedV1,
    ScreeningRecordedV1,
    ScreeningScoredV1,
    UrgentScreeningResultV1,
)


def timeline_change(upstream: UpstreamRef, payload: Payload, occurred_at: datetime) -> Callable[[Timeline], None]:
    """What one intake event does to the person's timeline: an entry, and for what the care plan must
    answer to (results, crises) or address the person by, the facts themselves."""
    kind, summary = timeline_entry(payload)
    match payload:
        case ScreeningCompletedV1() | ScreeningScoredV1():
            return lambda timeline: timeline.note_screening_result(
                upstream, summary, occurred_at, str(payload.screening_id), payload.instrument, payload.domain,
                payload.total, payload.band, payload.positive, list(payload.flags), payload.complete)
        case CrisisContactRecordedV1():
            return lambda timeline: timeline.note_crisis_contact(
                upstream, summary, str(payload.contact_id), payload.kind, payload.occurred_at, payload.outcome,
                payload.follow_up_due)
        case PersonRegisteredV1():
            details = {"preferred_name": payload.preferred_name, "pronouns": payload.pronouns,
                       "preferred_language": payload.preferred_language}
            return lambda timeline: timeline.note_person(upstream, kind, summary, occurred_at, details)
        case ConsentGrantedV1():
            return lambda timeline: timeline.note_consent(
                upstream, summary, occurred_at, payload.directive_id, payload.recipient_kind, payload.recipient_id,
                list(payload.categories), payload.starts_at, payload.expires_at)
        case ConsentRevokedV1():
            return lambda timeline: timeline.note_consent_revoked(
                upstream, summary, occurred_at, payload.directive_id, payload.revoked_at)
        case PersonDetailsAmendedV1():
            details = {field: getattr(payload, field) for field in payload.changed
                       if field in ("preferred_name", "pronouns", "preferred_language")}
            return lambda timeline: timeline.note_person(upstream, kind, summary, occurred_at, details)
        case PersonMergedV1():
            return lambda timeline: timeline.note_duplicate_merged(upstream, summary, occurred_at,
                                                                   str(payload.duplicate_id))
        case PersonMergedIntoV1():
            return lambda timeline: timeline.note_merged_into(upstream, summary, occurred_at, str(payload.survivor_id))
        case PersonMergeUndoneV1():
            return lambda timeline: timeline.note_merge_undone(upstream, summary, occurred_at, str(payload.survivor_id),
                                                               str(payload.duplicate_id))
    return lambda timeline: timeline.add_entry(upstream, kind, summary, occurred_at)


def timeline_entry(payload: Payload) -> tuple[str, str]:
    """The entry's kind and a one-line summary. Identifiers and counts only: no clinical content."""
    match payload:
        case PersonRegisteredV1():
            return "person_registered", f"Registered by {payload.agency}"
        case ScreeningRecordedV1():
            return "screening_recorded", f"{payload.instrument} screening: {_answered_summary(payload.answers)}"
        case ScreeningScoredV1():
            return "screening_scored", _scored_summary(payload)
        case ScreeningCompletedV1():
            return "screening_scored", f"{_scored_summary(payload)}; {_answered_summary(payload.answers)}"
        case CrisisContactRecordedV1():
            return "crisis_contact", (f"{payload.kind.replace('_', ' ')}: {payload.outcome.replace('_', ' ')}; "
                                      f"follow-up due {payload.follow_up_due.isoformat()}")
        case PersonDetailsAmendedV1():
            return "details_amended", f"Details amended: {', '.join(payload.changed)}"
        case ConsentGrantedV1():
            recipient = payload.recipient_kind.replace("_", " ") + (f" {payload.recipient_id}" if payload.recipient_id else "")
            return "consent_granted", f"Consent: {recipient} may see {', '.join(payload.categories)}"
        case ConsentRevokedV1():
            return "consent_revoked", f"Consent {payload.directive_id} revoked"
        case PersonMergedV1():
            return "person_merged", f"Record {payload.duplicate_id} ({payload.duplicate_agency}) merged into this one"
        case PersonMergedIntoV1():
            return "person_merged_into", f"Merged into record {payload.survivor_id}"
        case PersonMergeUndoneV1():
            return "merge_undone", f"Merge of record {payload.duplicate_id} into {payload.survivor_id} undone"
        case UrgentScreeningResultV1():
            return "urgent_screening_result", f"Urgent: {payload.instrument} shows suicide risk ({', '.join(payload.flags)})"
    return payload.event_type.rsplit(".", 1)[-1], payload.event_type


def _answered_summary(answers: Mapping[str, object]) -> str:
    declined = sum(1 for answer in answers.values() if answer == "declined")
    return f"{len(answers) - declined} answered, {declined} declined"


def _scored_summary(payload: ScreeningScoredV1 | ScreeningCompletedV1) -> str:
    outcome = {True: "positive", False: "negative", None: "not certain"}[payload.positive]
    parts = [payload.instrument, payload.band or "no band", outcome]
    if payload.total is not None:
        parts.insert(2, f"total {payload.total}")
    if payload.flags:
        parts.append("flags: " + ", ".join(payload.flags))
    return "; ".join(parts)


# Every event of a published stream (care team, medication collaboration, crisis follow-ups, plan
# changes) is published:
# consumers apply them by sequence, so a stream with gaps would stall.
TRANSLATIONS: dict[type, Any] = {
    CareTeam.Formed: lambda event: CareTeamFormedV1(),
    CareTeam.MemberJoined: lambda event: TeamMemberJoinedV1(
        member_id=event.member_id, role=event.role, program_id=event.program_id, program_kind=event.program_kind),
    CareTeam.MemberJoinedThroughMerge: lambda event: TeamMemberJoinedV1(
        member_id=event.member_id, role=event.role, program_id=event.program_id, program_kind=event.program_kind,
        joined_through_merge_of=event.duplicate_id),
    CareTeam.MemberLeft: lambda event: TeamMemberLeftV1(member_id=event.member_id),
    MedicationCollaboration.Opened: lambda event: MedicationRecordOpenedV1(),
    MedicationCollaboration.NoteAdded: lambda event: MedicationNoteAddedV1(
        note_id=event.note_id, kind=event.kind, choice=event.choice, for_prescriber=event.kind in FOR_PRESCRIBER,
        part2=event.part2),
    MedicationCollaboration.PrescribingDecisionRecorded: lambda event: PrescribingDecisionRecordedV1(
        decision_id=event.decision_id, decision=event.decision, discussed_with_person=event.discussed_with_person,
        part2=event.part2),
    CrisisFollowUps.FirstRecorded: lambda event: CrisisFollowUpRecordedV1(
        contact_id=event.contact_id, followed_up_on=event.followed_up_on),
    CrisisFollowUps.Recorded: lambda event: CrisisFollowUpRecordedV1(
        contact_id=event.contact_id, followed_up_on=event.followed_up_on),
    PlanChanges.FirstChanged: lambda event: PlanChangedV1(
        change=event.change, item_id=event.item_id, named_members=list(event.named)),
    PlanChanges.Changed: lambda event: PlanChangedV1(
        change=event.change, item_id=event.item_id, named_members=list(event.named)),
}
