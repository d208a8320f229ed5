"""Medication collaboration over HTTP: notes by anyone on the team (and the person), prescribing
decisions by prescribing roles only."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from uuid import UUID, uuid4

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.careplan.api.access import acting_role
from services.careplan.application import CareplanApplication
from services.careplan.deps import Access, Application, ServiceFoundation
from services.careplan.domain.merged_history import MedicationHistory
from services.careplan.domain.medication import (
    Decision,
    InvalidNote,
    NoteKind,
    OutsideScopeOfPractice,
    PersonChoice,
)
from shared.access import Principal, Right
from shared.contracts.fields import Identifier
from shared.http import CurrentPrincipal, RequestProvenance, invalid_field
from shared.recorded_reads import RecordedRead
from shared.runtime import Foundation

audit_log = logging.getLogger("carecoord.audit")


def new_id() -> str:
    return str(uuid4())


class AddNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note_id: Identifier = Field(default_factory=new_id,
                                description="Give one to make retries safe: the same id is recorded once")
    kind: NoteKind = Field(
        description="There is no kind for medication given without the person's knowledge or for "
                    "withholding services or money: such notes cannot be written.")
    text: str = Field(min_length=1, max_length=4000, description="In the person's words where they are theirs")
    medication: str | None = Field(None, max_length=200)
    choice: PersonChoice | None = Field(
        None, description="For a person_choice note: the person's choice, which reaches the prescriber")


class RecordDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision_id: Identifier = Field(default_factory=new_id)
    decision: Decision
    medication: str = Field(min_length=1, max_length=200)
    dose: str | None = Field(None, max_length=200, description="Required to start, change or dose")
    rationale: str = Field(min_length=1, max_length=4000)
    discussed_with_person: bool


class NoteView(BaseModel):
    note_id: str
    kind: str
    text: str
    medication: str | None
    choice: str | None
    author_role: str
    part2: bool = Field(False, description="Written by a member of a Part 2 substance-use program (42 CFR Part 2)")


class DecisionView(BaseModel):
    decision_id: str
    decision: str
    medication: str
    dose: str | None
    rationale: str
    discussed_with_person: bool
    prescriber_role: str
    part2: bool = Field(False, description="Recorded by a member of a Part 2 substance-use program (42 CFR Part 2)")


class RecordedNoteView(NoteView):
    added_at: datetime
    record_id: UUID = Field(description="The record it was written on (after a merge, the survivor shows both)")


class RecordedDecisionView(DecisionView):
    decided_at: datetime
    record_id: UUID = Field(description="The record it was written on (after a merge, the survivor shows both)")


class MedicationView(BaseModel):
    person_id: UUID
    notes: list[RecordedNoteView] = Field(description="Oldest first; after a merge, every record's")
    decisions: list[RecordedDecisionView] = Field(description="Oldest first; after a merge, every record's")
    withheld: int = Field(0, description=(
        "How many notes and decisions of a Part 2 program are withheld from this reader, a member from "
        "another program, until the person's consent names their program or the care team"))

    @classmethod
    def of(cls, person_id: UUID, history: MedicationHistory, part2_shown: bool = True) -> MedicationView:
        notes = [n for n in history.notes if part2_shown or not n.entry.part2]
        decisions = [d for d in history.decisions if part2_shown or not d.entry.part2]
        return cls(
            person_id=person_id,
            notes=[RecordedNoteView(note_id=n.note_id, kind=n.kind, text=n.text, medication=n.medication,
                                    choice=n.choice, author_role=n.author_role, part2=n.part2,
                                    added_at=_recorded_at(n.added_at), record_id=record.record_id)
                   for record in notes for n in (record.entry,)],
            decisions=[RecordedDecisionView(decision_id=d.decision_id, decision=d.decision, medication=d.medication,
                                            dose=d.dose, rationale=d.rationale,
                                            discussed_with_person=d.discussed_with_person,
                                            prescriber_role=d.prescriber_role, part2=d.part2,
                                            decided_at=_recorded_at(d.decided_at), record_id=record.record_id)
                       for record in decisions for d in (record.entry,)],
            withheld=len(history.notes) + len(history.decisions) - len(notes) - len(decisions),
        )


def _recorded_at(moment: datetime | None) -> datetime:
    assert moment is not None, "every stored note and decision has its event's time"
    return moment


router = APIRouter(prefix="/people/{person_id}/medication", tags=["medication collaboration"])


async def view(foundation: Foundation, application: CareplanApplication, person_id: UUID,
               reader: Principal, records: list[UUID] | None = None) -> MedicationView:
    """The person's notes and decisions with those of every record merged into theirs (`records`:
    as access found them, else looked up), each Part 2 entry withheld from a reader who may not see it."""
    def load() -> MedicationHistory | None:
        return application.medication_history(records or application.records_of(person_id))

    history = await foundation.run_sync(load)
    if history is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    part2_shown = await foundation.run_sync(application.may_see_part2, person_id, reader.subject,
                                            datetime.now(timezone.utc))
    return MedicationView.of(person_id, history, part2_shown)


@router.get("", response_model=MedicationView, summary="Collaboration notes and prescribing decisions")
async def get_medication(person_id: UUID, principal: CurrentPrincipal, foundation: ServiceFoundation,
                         application: Application, authorized: Access, read: RecordedRead):
    async with read.of(person_id, "medication collaboration"):
        records = await authorized.records(principal, Right.READ_CARE_PLAN, person_id)
        return await view(foundation, application, person_id, principal, records)


@router.post("/notes", status_code=201, response_model=MedicationView,
             summary="A collaboration note by anyone on the team, or the person (200 if already recorded)")
async def add_note(person_id: UUID, body: AddNote, provenance: RequestProvenance, response: Response,
                   principal: CurrentPrincipal, foundation: ServiceFoundation, application: Application,
                   authorized: Access):
    team = await authorized(principal, Right.ADD_MEDICATION_NOTE, person_id)
    try:
        added = await foundation.run_sync(
            application.add_medication_note, person_id, body.note_id, body.kind, body.text, body.medication,
            body.choice, acting_role(principal, team), provenance)
    except InvalidNote as error:
        raise invalid_field(error.field, error.message) from None
    if not added:
        response.status_code = status.HTTP_200_OK
    return await view(foundation, application, person_id, principal)


@router.post("/decisions", status_code=201, response_model=MedicationView,
             summary="A prescribing decision: prescribing roles on the person's team only (403 for others)")
async def record_decision(person_id: UUID, body: RecordDecision, provenance: RequestProvenance,
                          response: Response, principal: CurrentPrincipal, foundation: ServiceFoundation,
                          application: Application, authorized: Access):
    team = await authorized(principal, Right.RECORD_PRESCRIBING_DECISION, person_id)
    role = acting_role(principal, team)
    try:
        recorded = await foundation.run_sync(
            application.record_prescribing_decision, person_id, body.decision_id, body.decision,
            body.medication, body.dose, body.rationale, body.discussed_with_person, role, provenance)
    except OutsideScopeOfPractice as refusal:
        # Not a decision, and not recorded as one: the attempt is only logged, as ids.
        audit_log.warning("prescribing decision refused: outside scope of practice",
                          extra={"actor": principal.subject, "acting_role": role, "person_id": str(person_id)})
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(refusal)) from None
    except InvalidNote as error:
        raise invalid_field(error.field, error.message) from None
    if not recorded:
        response.status_code = status.HTTP_200_OK
    return await view(foundation, application, person_id, principal)
