"""Inbound integration events -> the notification the care team is due, if any."""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts.base import Payload
from shared.contracts.intake import PersonRegisteredV1, ScreeningRecordedV1


@dataclass(frozen=True)
class Notice:
    kind: str
    message: str


def notice_for(payload: Payload) -> Notice | None:
    """What to tell the team. Names the kind of record, never its clinical content."""
    match payload:
        case PersonRegisteredV1():
            return Notice("person_registered", f"A person was registered by {payload.agency}: welcome them to the team.")
        case ScreeningRecordedV1():
            return Notice("screening_recorded", f"A {payload.instrument} screening was recorded: review it together.")
    return None
