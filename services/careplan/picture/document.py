"""The picture's facts as folded so far, and the JSON document they are stored as.

The picture keeps facts only, as JSON-ready values (ISO dates and times), so that it is stored as
one document and a picture rebuilt from the events equals the live one. What depends on the
moment it is read (is a crisis follow-up due or overdue) or is derived from several facts
(co-occurring needs, the next review, whether the safety plan needs review) is worked out by
view.py's `present`, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

Json = dict[str, Any]


@dataclass
class Picture:
    """One person's facts as folded so far. Every value is JSON-ready (see `to_document`)."""

    person_id: str
    preferred_name: str | None = None
    pronouns: str | None = None
    preferred_language: str | None = None
    # domain -> the latest result noted in that domain
    screenings: dict[str, Json] = field(default_factory=dict)
    crisis_contacts: list[Json] = field(default_factory=list)
    # contact id -> the follow-up recorded on the care plan (may arrive before the contact itself)
    crisis_follow_ups: dict[str, Json] = field(default_factory=dict)
    # What intake reported that the plan has not yet answered with a review (reviews.ReviewPrompt).
    review_prompts: list[Json] = field(default_factory=list)
    team: dict[str, str] = field(default_factory=dict)
    plan: Json | None = None  # started_on, version, last_reviewed_on, last_review, agreement
    goals: dict[str, Json] = field(default_factory=dict)
    supports: dict[str, Json] = field(default_factory=dict)
    strengths: list[str] = field(default_factory=list)
    preferences: Json = field(default_factory=dict)
    setbacks: list[Json] = field(default_factory=list)
    medication_notes: list[Json] = field(default_factory=list)
    prescribing_decisions: list[Json] = field(default_factory=list)
    safety_plan: Json | None = None  # version, written_at
    # Filled only when merged records are combined for serving (merged.py), never by the fold: the
    # goals of a duplicate's care plan, in the person's own words, beside the survivor's plan.
    carried_over_goals: list[Json] = field(default_factory=list)
    updated_at: str | None = None  # when the latest event folded in happened


def to_document(picture: Picture) -> Json:
    """The picture's fields as they are (they are JSON-ready): not `asdict`, whose recursive deep
    copy of every screening and note was half of the projector's CPU. Serialise it at once; the
    nested values are the picture's own."""
    return {f.name: getattr(picture, f.name) for f in fields(Picture)}


def from_document(document: Json) -> Picture:
    return Picture(**document)
