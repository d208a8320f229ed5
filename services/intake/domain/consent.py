"""Consent directives: who may see which categories of a person's information, from when, until when.

Substance-use information follows stricter rules (42 CFR Part 2 in the US): it is shared outside
the treating program only with its own explicit consent, so a directive never covers it by
implication; the category must be named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

RECIPIENT_KINDS = ("care_team", "named_person", "outside_agency")
CATEGORIES = ("general", "mental_health", "substance_use", "crisis")


class InvalidConsent(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ConsentDirective:
    directive_id: str
    recipient_kind: str
    recipient_id: str | None
    categories: tuple[str, ...]
    starts_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None = None

    def allows(self, recipient_kind: str, recipient_id: str | None, category: str, at: datetime) -> bool:
        """Whether this directive lets that recipient see that category at that moment."""
        if self.revoked_at is not None and at >= self.revoked_at:
            return False
        if at < self.starts_at or (self.expires_at is not None and at >= self.expires_at):
            return False
        return (recipient_kind == self.recipient_kind and category in self.categories
                and (self.recipient_kind == "care_team" or recipient_id == self.recipient_id))


def check_directive(recipient_kind: str, recipient_id: str | None, categories: list[str],
                    starts_at: datetime, expires_at: datetime | None) -> None:
    if recipient_kind not in RECIPIENT_KINDS:
        raise InvalidConsent("recipient_kind", f"unknown kind {recipient_kind!r}; known: {', '.join(RECIPIENT_KINDS)}")
    if recipient_kind != "care_team" and not recipient_id:
        raise InvalidConsent("recipient_id", "a named person or outside agency must be named")
    if not categories:
        raise InvalidConsent("categories", "name at least one category")
    unknown = [category for category in categories if category not in CATEGORIES]
    if unknown:
        raise InvalidConsent("categories", f"unknown categories {unknown}; known: {', '.join(CATEGORIES)}")
    if starts_at.tzinfo is None or (expires_at is not None and expires_at.tzinfo is None):
        raise InvalidConsent("starts_at" if starts_at.tzinfo is None else "expires_at", "needs a time zone")
    if expires_at is not None and expires_at <= starts_at:
        raise InvalidConsent("expires_at", "is not after starts_at")
