"""Medication as collaboration: what the person says, what the team notices and does to help, and
the prescribing decisions that only prescribing roles may make.

What a note can say is closed by design. There is no kind of note for medication given without
the person's knowledge, nor for withholding services or money to make someone take a medication:
such a note cannot be written here at all. The person's choices (declining, disagreeing, stopping)
are a kind of note of their own, recorded in their words, and reach the prescriber.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args
from uuid import UUID, uuid5

from eventsourcing.domain import event

from shared.domain import InvalidField, Provenance
from shared.person_aggregate import PersonAggregate, command

MEDICATION_NAMESPACE = UUID("9a4e2c71-0b5d-4f3e-a8c6-2d1f7e9b3a50")

NoteKind = Literal[
    "person_says",              # what the person says about the medication, in their words
    "effects_noticed",          # effects the person (or the team, with them) notices
    "question_for_prescriber",
    "help_given",               # reminder boxes, pharmacy pickup, a ride to the appointment
    "incentive_offered",        # an offer the person may take or leave; never a condition of services
    "person_choice",            # see PERSON_CHOICES
]
NOTE_KINDS: tuple[str, ...] = get_args(NoteKind)
PersonChoice = Literal["declines", "disagrees", "chooses_to_stop", "wants_a_change"]
PERSON_CHOICES: tuple[str, ...] = get_args(PersonChoice)
# Notes the prescriber should hear about without having to look.
FOR_PRESCRIBER = frozenset({"question_for_prescriber", "person_choice"})

Decision = Literal["start", "change", "stop", "dose"]
DECISIONS: tuple[str, ...] = get_args(Decision)
DEFAULT_PRESCRIBING_ROLES = frozenset({"prescriber", "physician", "nurse_practitioner"})


class InvalidNote(InvalidField):
    """A medication note or decision that cannot be recorded; `field` names what to correct."""


class OutsideScopeOfPractice(PermissionError):
    """Only prescribing roles record prescribing decisions. Nothing is recorded when refused."""

    def __init__(self, role: str) -> None:
        super().__init__(f"a {role.replace('_', ' ')} cannot record prescribing decisions: "
                         "only prescribing roles can (add a collaboration note for the prescriber instead)")
        self.role = role


class OnlySupervisorsAssignPrescribing(PermissionError):
    """Someone other than a supervisor tried to give a team member a prescribing role."""


# The role (of the token, not on the team) that may assign prescribing roles on a team.
SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class ScopeOfPractice:
    """Which roles may record prescribing decisions: physician, nurse practitioner, prescriber,
    and any role an agency configures as prescribing (PRESCRIBING_ROLES)."""

    prescribing_roles: frozenset[str] = DEFAULT_PRESCRIBING_ROLES

    @classmethod
    def with_configured(cls, roles: Iterable[str]) -> ScopeOfPractice:
        return cls(DEFAULT_PRESCRIBING_ROLES | frozenset(roles))

    def check_may_prescribe(self, role: str) -> None:
        if role not in self.prescribing_roles:
            raise OutsideScopeOfPractice(role)

    def check_may_assign(self, team_role: str, assigned_by_role: str) -> None:
        """A prescribing role on the team is what lets someone record prescribing decisions: only
        a supervisor assigns it, so no one can give it to themselves."""
        if team_role in self.prescribing_roles and assigned_by_role != SUPERVISOR:
            raise OnlySupervisorsAssignPrescribing("only a supervisor assigns a prescribing role")


@dataclass(frozen=True)
class CollaborationNote:
    note_id: str
    kind: str
    text: str
    medication: str | None
    choice: str | None
    author_role: str
    part2: bool = False  # written by a member of a Part 2 program (shared/part2.py)
    added_at: datetime | None = None  # when it was recorded (its event's time)


@dataclass(frozen=True)
class PrescribingDecision:
    decision_id: str
    decision: str
    medication: str
    dose: str | None
    rationale: str
    discussed_with_person: bool
    prescriber_role: str
    part2: bool = False  # recorded by a member of a Part 2 program (shared/part2.py)
    decided_at: datetime | None = None  # when it was recorded (its event's time)


class MedicationCollaboration(PersonAggregate):
    if TYPE_CHECKING:  # The classes @event("...") defines as the class body runs, for mypy (fields unseen)
        Opened: ClassVar[type[Any]]

    class NoteAdded(PersonAggregate.Event):
        """Version 2 adds `part2`: the note was written by a member of a Part 2 program."""

        note_id: str
        kind: str
        text: str
        medication: str | None
        choice: str | None
        author_role: str
        part2: bool
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["part2"] = False  # written before programs were recorded on the team

    class PrescribingDecisionRecorded(PersonAggregate.Event):
        """Version 2 adds `part2`: the decision was recorded by a member of a Part 2 program."""

        decision_id: str
        decision: str
        medication: str
        dose: str | None
        rationale: str
        discussed_with_person: bool
        author_role: str
        part2: bool
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["part2"] = False

    @staticmethod
    def create_id(person_id: UUID, **_: object) -> UUID:
        return uuid5(MEDICATION_NAMESPACE, str(person_id))

    @event("Opened")
    def __init__(self, person_id: UUID, provenance: Provenance) -> None:
        self.person_id = person_id
        self.notes: list[CollaborationNote] = []
        self.decisions: list[PrescribingDecision] = []

    @command
    def add_note(self, note_id: str, kind: str, text: str, medication: str | None, choice: str | None,
                 author_role: str, provenance: Provenance, part2: bool = False) -> bool:
        """Any team member (or the person) adds a note. False if this note id is already recorded.
        `part2`: its author writes as a member of a Part 2 program (shared/part2.py)."""
        if not note_id.strip():
            raise InvalidNote("note_id", "must not be empty")
        if any(note.note_id == note_id for note in self.notes):
            return False
        if kind not in NOTE_KINDS:
            raise InvalidNote("kind", f"no such kind of note {kind!r}; the kinds are: {', '.join(NOTE_KINDS)}")
        if not text.strip():
            raise InvalidNote("text", "must not be empty")
        if kind == "person_choice" and choice not in PERSON_CHOICES:
            raise InvalidNote("choice", f"a person's choice is one of: {', '.join(PERSON_CHOICES)}")
        if kind != "person_choice" and choice is not None:
            raise InvalidNote("choice", "only a person_choice note records a choice")
        self._note_added(note_id, kind, text, medication, choice, author_role, part2)
        return True

    @event(NoteAdded)
    def _note_added(self, note_id: str, kind: str, text: str, medication: str | None, choice: str | None,
                    author_role: str, part2: bool, timestamp: datetime | None = None) -> None:
        # `timestamp`: the event's own (the library passes it when applying, live and on replay), so
        # a merged person's notes from two records can be put in time order.
        self.notes.append(CollaborationNote(note_id, kind, text, medication, choice, author_role, part2, timestamp))

    @command
    def record_decision(self, decision_id: str, decision: str, medication: str, dose: str | None,
                        rationale: str, discussed_with_person: bool, author_role: str, scope: ScopeOfPractice,
                        provenance: Provenance, part2: bool = False) -> bool:
        """A prescribing decision, by a prescribing role only. False if this decision id is recorded."""
        scope.check_may_prescribe(author_role)  # before anything else: a refusal records nothing
        if not decision_id.strip():
            raise InvalidNote("decision_id", "must not be empty")
        if any(d.decision_id == decision_id for d in self.decisions):
            return False
        if decision not in DECISIONS:
            raise InvalidNote("decision", f"unknown decision {decision!r}; known: {', '.join(DECISIONS)}")
        if not medication.strip():
            raise InvalidNote("medication", "must not be empty")
        if decision in ("start", "dose", "change") and not (dose or "").strip():
            raise InvalidNote("dose", f"a {decision} decision states the dose")
        if not rationale.strip():
            raise InvalidNote("rationale", "must not be empty")
        self._decision_recorded(decision_id, decision, medication, dose, rationale, discussed_with_person,
                                author_role, part2)
        return True

    @event(PrescribingDecisionRecorded)
    def _decision_recorded(self, decision_id: str, decision: str, medication: str, dose: str | None,
                           rationale: str, discussed_with_person: bool, author_role: str, part2: bool,
                           timestamp: datetime | None = None) -> None:
        self.decisions.append(PrescribingDecision(decision_id, decision, medication, dose, rationale,
                                                  discussed_with_person, author_role, part2, timestamp))
