"""Events intake publishes. Routing keys: `intake.<event>`."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

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


class ScreeningRecordedV1(Payload):
    """A standardized screening was administered and its answers recorded (scoring comes later)."""

    event_type: ClassVar[str] = "carecoord.intake.screening_recorded"
    version: ClassVar[int] = 1

    screening_id: UUID
    instrument: Instrument
    answers: dict[str, Answer] = Field(description="Item id to answer; declined items say so.")


PAYLOADS: tuple[type[Payload], ...] = (PersonRegisteredV1, ScreeningRecordedV1)
