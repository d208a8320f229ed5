"""Consent directives: who may see which categories of a person's information, from when, until when.

Intake records them; every service that shares information outside the care team applies this one
rule. Substance-use information follows stricter rules (42 CFR Part 2 in the US): it is shared
outside the treating program only with its own explicit consent, so a directive never covers it
by implication; the category must be named. Plain Python: no framework imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, get_args

# `program`: the care-team members of one program (recipient_id = the program's id), for
# substance-use records within a team that spans programs (shared/part2.py).
RECIPIENT_KINDS = ("care_team", "named_person", "outside_agency", "program")
Category = Literal["general", "mental_health", "substance_use", "crisis"]
CATEGORIES: tuple[str, ...] = get_args(Category)


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

    def revoked(self, at: datetime) -> ConsentDirective:
        return replace(self, revoked_at=at)


def categories_allowed(directives: Iterable[ConsentDirective], recipient_kind: str, recipient_id: str | None,
                       at: datetime) -> frozenset[str]:
    """Every category some directive lets this recipient see now (none: they see nothing)."""
    directives = list(directives)
    return frozenset(category for category in CATEGORIES
                     if any(d.allows(recipient_kind, recipient_id, category, at) for d in directives))
