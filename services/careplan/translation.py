"""Inbound integration events -> what the care team reads on a person's timeline."""

from __future__ import annotations

from shared.contracts.base import Payload
from shared.contracts.intake import PersonRegisteredV1, ScreeningRecordedV1


def timeline_entry(payload: Payload) -> tuple[str, str]:
    """The entry's kind and a one-line summary. Identifiers and counts only: no clinical content."""
    match payload:
        case PersonRegisteredV1():
            return "person_registered", f"Registered by {payload.agency}"
        case ScreeningRecordedV1():
            declined = sum(1 for answer in payload.answers.values() if answer == "declined")
            answered = len(payload.answers) - declined
            return "screening_recorded", f"{payload.instrument} screening: {answered} answered, {declined} declined"
    return payload.event_type.rsplit(".", 1)[-1], payload.event_type
