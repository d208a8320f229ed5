"""Inbound integration events -> the notification the care team is due, if any."""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts.base import Payload
from shared.contracts.intake import PersonRegisteredV1, ScreeningScoredV1, UrgentScreeningResultV1


@dataclass(frozen=True)
class Notice:
    kind: str
    message: str
    urgent: bool = False


def notice_for(payload: Payload) -> Notice | None:
    """What to tell the team. Names the kind of record, never its clinical content."""
    match payload:
        case PersonRegisteredV1():
            return Notice("person_registered", f"A person was registered by {payload.agency}: welcome them to the team.")
        case ScreeningScoredV1(positive=True):
            return Notice("screening_positive",
                          f"A {payload.instrument} screening was positive ({payload.band or 'see result'}): "
                          "review it with the person.")
        case UrgentScreeningResultV1():
            return Notice("crisis", f"Urgent: a {payload.instrument} screening shows suicide risk. Reach the person "
                                    "today and follow their safety plan.", urgent=True)
    return None  # answers recorded, negative or uncertain results: nothing to interrupt the team with
