"""Crisis contacts: what happened, what helped, how it ended, and when the team must follow up.

The follow-up windows are the agency defaults the intake issue names: within 24 hours of a crisis
contact, within 7 days of a hospital discharge (the period of highest risk after discharge).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.domain import InvalidField

KINDS = (
    "crisis_line_call", "mobile_crisis_visit", "emergency_department_visit", "hospital_admission",
    "hospital_discharge", "law_enforcement_contact",
)
OUTCOMES = (
    "resolved_in_community", "voluntary_hospitalization", "involuntary_hospitalization", "referred_elsewhere",
    "unknown",
)
FOLLOW_UP_AFTER_CRISIS = timedelta(hours=24)
FOLLOW_UP_AFTER_DISCHARGE = timedelta(days=7)


class InvalidCrisisContact(InvalidField):
    """A crisis contact that cannot be recorded; `field` names what to correct."""


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InvalidCrisisContact("kind", f"unknown kind {kind!r}; known: {', '.join(KINDS)}")


def check_outcome(outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise InvalidCrisisContact("outcome", f"unknown outcome {outcome!r}; known: {', '.join(OUTCOMES)}")


def check_aware(moment: datetime, field: str) -> None:
    if moment.tzinfo is None:
        raise InvalidCrisisContact(field, "needs a time zone")


def follow_up_due(kind: str, occurred_at: datetime, requested: datetime | None) -> datetime:
    """The caller's due time if given (it may be sooner or later), else the default window."""
    if requested is not None:
        check_aware(requested, "follow_up_due")
        if requested < occurred_at:
            raise InvalidCrisisContact("follow_up_due", "is before the contact itself")
        return requested
    window = FOLLOW_UP_AFTER_DISCHARGE if kind == "hospital_discharge" else FOLLOW_UP_AFTER_CRISIS
    try:
        return occurred_at + window
    except OverflowError:
        raise InvalidCrisisContact("occurred_at", "is so late that its follow-up would fall past the calendar's end") from None
