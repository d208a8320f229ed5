"""Events intake publishes. Routing keys: `intake.<event>`."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.contracts.base import Payload

Instrument = Literal["PHQ-9", "GAD-7", "AUDIT-C", "DAST-10", "PC-PTSD-5", "C-SSRS"]
# An item answer: a number on the instrument's scale, yes/no, or declined ("prefer not to answer").
Answer = int | bool | Literal["declined"]


class PersonRegisteredV1(Payload):
    """A person was registered by an agency."""

    event_type: ClassVar[str] = "carecoord.intake.person_registered"
    version: ClassVar[int] = 1

    agency: str
    agency_person_id: str
    preferred_name: str
    date_of_birth: date | None = None
    pronouns: str | None = None
    preferred_language: str | None = Field(None, description="BCP 47 tag, e.g. es, vi, ar")


class PersonDetailsAmendedV1(Payload):
    """How the person is named or addressed changed: only the fields that changed are given."""

    event_type: ClassVar[str] = "carecoord.intake.person_details_amended"
    version: ClassVar[int] = 1

    preferred_name: str | None = None
    pronouns: str | None = None
    preferred_language: str | None = None
    date_of_birth: date | None = None
    changed: list[str] = Field(description="The fields that changed (a field may change to null)")


class ScreeningRecordedV1(Payload):
    """A standardized screening was administered and its answers recorded (scoring comes later)."""

    event_type: ClassVar[str] = "carecoord.intake.screening_recorded"
    version: ClassVar[int] = 1

    screening_id: UUID
    instrument: Instrument
    answers: dict[str, Answer] = Field(description="Item id to answer; declined items say so.")
    sex: Literal["male", "female", "other"] | None = Field(None, description="As given for AUDIT-C; none if unknown")


Domain = Literal["mental_health", "substance_use", "trauma", "suicide_risk"]


class ScreeningScoredV1(Payload):
    """A screening's score by the instrument's published rules (see SCREENING.md).

    `total`, `band` and `positive` are null when the rules allow no certain value (too many items
    declined); `complete` says whether every item that should have been asked was answered.
    For the C-SSRS, `band` is the risk level (none, low, moderate, high) and there is no total.
    """

    event_type: ClassVar[str] = "carecoord.intake.screening_scored"
    version: ClassVar[int] = 1

    screening_id: UUID
    instrument: Instrument
    domain: Domain
    total: int | None
    band: str | None
    positive: bool | None
    flags: list[str] = Field(description="e.g. suicide_risk, item9_unanswered, prorated, high_risk")
    complete: bool


class ScreeningCompletedV1(Payload):
    """A standardized screening was administered: its answers as given and their score by the
    instrument's published rules (see SCREENING.md), in one event.

    What intake publishes for every screening recorded since this contract was added; screenings
    recorded before it were published as `screening_recorded` followed by `screening_scored`,
    which consumers still accept (a replayed history holds them). The result fields mean what
    they mean in `screening_scored`.
    """

    event_type: ClassVar[str] = "carecoord.intake.screening_completed"
    version: ClassVar[int] = 1

    screening_id: UUID
    instrument: Instrument
    answers: dict[str, Answer] = Field(description="Item id to answer; declined items say so.")
    sex: Literal["male", "female", "other"] | None = Field(None, description="As given for AUDIT-C; none if unknown")
    domain: Domain
    total: int | None
    band: str | None
    positive: bool | None
    flags: list[str] = Field(description="e.g. suicide_risk, item9_unanswered, prorated, high_risk")
    complete: bool


class UrgentScreeningResultV1(Payload):
    """A screening shows suicide risk (PHQ-9 item 9 above 0, or C-SSRS high risk): treat as a crisis."""

    event_type: ClassVar[str] = "carecoord.intake.urgent_screening_result"
    version: ClassVar[int] = 1

    screening_id: UUID
    instrument: Instrument
    flags: list[str]


CrisisKind = Literal[
    "crisis_line_call", "mobile_crisis_visit", "emergency_department_visit", "hospital_admission",
    "hospital_discharge", "law_enforcement_contact",
]
CrisisOutcome = Literal[
    "resolved_in_community", "voluntary_hospitalization", "involuntary_hospitalization", "referred_elsewhere",
    "unknown",
]


class CrisisContactRecordedV1(Payload):
    """A crisis contact happened; the care team must follow up by `follow_up_due`."""

    event_type: ClassVar[str] = "carecoord.intake.crisis_contact_recorded"
    version: ClassVar[int] = 1

    contact_id: UUID
    kind: CrisisKind
    occurred_at: datetime
    location: str
    responders: list[str]
    what_helped: str = Field(description="What helped, e.g. the de-escalation used, in the words recorded")
    outcome: CrisisOutcome
    follow_up_due: datetime


ConsentCategory = Literal["general", "mental_health", "substance_use", "crisis"]


class ConsentGrantedV1(Payload):
    """The person consented to share these categories with this recipient, from `starts_at`.

    Substance-use information is covered only when `substance_use` is named (42 CFR Part 2).
    `program` (added within version 1): the care-team members of the program `recipient_id`,
    who otherwise see no substance-use records of a Part 2 program they are not in.
    """

    event_type: ClassVar[str] = "carecoord.intake.consent_granted"
    version: ClassVar[int] = 1

    directive_id: str
    recipient_kind: Literal["care_team", "named_person", "outside_agency", "program"]
    recipient_id: str | None
    categories: list[ConsentCategory]
    starts_at: datetime
    expires_at: datetime | None


class ConsentRevokedV1(Payload):
    """The person revoked a consent directive from `revoked_at` on."""

    event_type: ClassVar[str] = "carecoord.intake.consent_revoked"
    version: ClassVar[int] = 1

    directive_id: str
    revoked_at: datetime


class AgencyIdentity(BaseModel):
    """A person's record at one agency."""

    agency: str
    agency_person_id: str


class PersonMergedV1(Payload):
    """On the survivor's stream: a duplicate record of this person, registered by another agency, was
    merged into this one. Both histories are kept; this person now answers to the duplicate's agency
    record (and to any the duplicate had absorbed before, in `also_known_as`)."""

    event_type: ClassVar[str] = "carecoord.intake.person_merged"
    version: ClassVar[int] = 1

    duplicate_id: UUID
    duplicate_agency: str
    duplicate_agency_person_id: str
    also_known_as: list[AgencyIdentity] = Field(
        default_factory=list, description="Agency records the duplicate had absorbed in earlier merges")


class PersonMergedIntoV1(Payload):
    """On the duplicate's stream: this record was merged into `survivor_id`. Its history stands; it
    records nothing new, and commands for it go to the survivor."""

    event_type: ClassVar[str] = "carecoord.intake.person_merged_into"
    version: ClassVar[int] = 1

    survivor_id: UUID


class PersonMergeUndoneV1(Payload):
    """On both records' streams: intake undid the merge of `duplicate_id` into `survivor_id` (it was
    wrong). Each record stands alone again; the duplicate's agency records answer to it again."""

    event_type: ClassVar[str] = "carecoord.intake.person_merge_undone"
    version: ClassVar[int] = 1

    merge_id: UUID
    survivor_id: UUID
    duplicate_id: UUID


PAYLOADS: tuple[type[Payload], ...] = (
    PersonRegisteredV1, PersonDetailsAmendedV1, ScreeningCompletedV1, ScreeningRecordedV1, ScreeningScoredV1,
    UrgentScreeningResultV1, CrisisContactRecordedV1,
    ConsentGrantedV1, ConsentRevokedV1, PersonMergedV1, PersonMergedIntoV1, PersonMergeUndoneV1,
)
