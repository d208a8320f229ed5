"""A person's safety plan, in their words, versioned: every revision is kept.

The sections are those of the Stanley-Brown Safety Planning Intervention. A crisis contact after
the current version was written means the plan needs review with the person (see `needs_review`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args
from uuid import UUID, uuid5

from eventsourcing.domain import event

from shared.domain import InvalidField, Provenance
from shared.person_aggregate import PersonAggregate, command

SAFETY_PLAN_NAMESPACE = UUID("e1d2c3b4-a596-4878-9a0b-1c2d3e4f5a6b")

Section = Literal[
    "warning_signs",
    "internal_coping_strategies",
    "people_and_places_for_distraction",
    "people_to_ask_for_help",
    "professionals_and_crisis_lines",
    "making_the_environment_safe",
    "reasons_for_living",
]
SECTIONS: tuple[str, ...] = get_args(Section)


class InvalidSafetyPlan(InvalidField):
    """A safety plan that cannot be written as given; `field` names what to correct."""


class StaleVersion(Exception):
    """The revision was written against an older version: someone revised the plan meanwhile."""

    def __init__(self, based_on: int, current: int) -> None:
        super().__init__(f"the safety plan is at version {current}; this revision was based on version {based_on}")
        self.current = current


@dataclass(frozen=True)
class SafetyPlanVersion:
    number: int
    sections: dict[str, tuple[str, ...]]
    written_at: datetime


class SafetyPlan(PersonAggregate):
    if TYPE_CHECKING:  # The classes @event("...") defines as the class body runs, for mypy (fields unseen)
        Started: ClassVar[type[Any]]
        Revised: ClassVar[type[Any]]

    @staticmethod
    def create_id(person_id: UUID, **_: object) -> UUID:
        return uuid5(SAFETY_PLAN_NAMESPACE, str(person_id))

    @event("Started")
    def __init__(self, person_id: UUID, provenance: Provenance) -> None:
        self.person_id = person_id
        self.versions: list[SafetyPlanVersion] = []

    @property
    def current(self) -> SafetyPlanVersion | None:
        return self.versions[-1] if self.versions else None

    @property
    def current_number(self) -> int:
        return len(self.versions)

    @command
    def revise(self, sections: dict[str, list[str]], based_on_version: int, written_at: datetime,
               provenance: Provenance) -> int:
        """Write the next version; returns its number. Every section is kept as given, in order."""
        if based_on_version != self.current_number:
            raise StaleVersion(based_on_version, self.current_number)
        # Compared with crisis contacts' times (needs_review), which always carry their zone.
        if not isinstance(written_at, datetime) or written_at.utcoffset() is None:
            raise InvalidSafetyPlan("written_at", "must be a time with its zone")
        unknown = set(sections) - set(SECTIONS)
        if unknown:
            raise InvalidSafetyPlan("sections", f"unknown section(s) {', '.join(sorted(unknown))}; "
                                                f"the sections are: {', '.join(SECTIONS)}")
        if not any(item.strip() for items in sections.values() for item in items):
            raise InvalidSafetyPlan("sections", "a safety plan needs at least one section written")
        complete = {section: [item for item in sections.get(section, []) if item.strip()] for section in SECTIONS}
        self._revised(self.current_number + 1, complete, written_at)
        return self.current_number

    @event("Revised")
    def _revised(self, number: int, sections: dict[str, list[str]], written_at: datetime) -> None:
        frozen = {section: tuple(items) for section, items in sections.items()}
        self.versions.append(SafetyPlanVersion(number, frozen, written_at))

    def revision(self, number: int) -> SafetyPlanVersion | None:
        """A version as it was written (1 is the first)."""
        return self.versions[number - 1] if 1 <= number <= len(self.versions) else None

def needs_review(written_at: datetime | None, crisis_contacts_at: Iterable[datetime]) -> bool:
    """A crisis after the current version was written marks the plan for review with the person."""
    return written_at is not None and any(at > written_at for at in crisis_contacts_at)
