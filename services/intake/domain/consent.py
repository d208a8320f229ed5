"""Recording consent directives: what makes one valid. The rule that applies them (what a
directive allows) is shared by every service: shared/consent.py."""

from __future__ import annotations

from datetime import datetime

from shared.consent import CATEGORIES, RECIPIENT_KINDS, ConsentDirective
from shared.domain import InvalidField

__all__ = ["CATEGORIES", "RECIPIENT_KINDS", "ConsentDirective", "InvalidConsent", "check_directive"]


class InvalidConsent(InvalidField):
    """A consent directive that cannot be recorded; `field` names what to correct."""


def check_directive(recipient_kind: str, recipient_id: str | None, categories: list[str],
                    starts_at: datetime, expires_at: datetime | None) -> None:
    if recipient_kind not in RECIPIENT_KINDS:
        raise InvalidConsent("recipient_kind", f"unknown kind {recipient_kind!r}; known: {', '.join(RECIPIENT_KINDS)}")
    if recipient_kind != "care_team" and not recipient_id:
        raise InvalidConsent("recipient_id", "a named person, outside agency or program must be named")
    if not categories:
        raise InvalidConsent("categories", "name at least one category")
    unknown = [category for category in categories if category not in CATEGORIES]
    if unknown:
        raise InvalidConsent("categories", f"unknown categories {unknown}; known: {', '.join(CATEGORIES)}")
    if starts_at.tzinfo is None or (expires_at is not None and expires_at.tzinfo is None):
        raise InvalidConsent("starts_at" if starts_at.tzinfo is None else "expires_at", "needs a time zone")
    if expires_at is not None and expires_at <= starts_at:
        raise InvalidConsent("expires_at", "is not after starts_at")
