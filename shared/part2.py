"""Substance-use records segmented by program, within one care team (42 CFR Part 2).

A care team may span programs: a Part 2 substance-use program and, say, a housing or primary-care
program. Records made in or about the substance-use program are *Part 2 records*: screening
results on substance use (AUDIT-C, DAST-10), notes and decisions a member of a Part 2 program
made, and plan goals and supports marked as substance-use information. Members from another
program see them only while a consent directive of the person names `substance_use` for the
whole care team or for their program; otherwise they are shown that something is withheld, never
what. Urgent safety information (crisis contacts, suicide risk) is never a Part 2 record here, so
a withheld record never hides a crisis.

Members with no program recorded (everyone staffed before programs existed) are taken as the
treating program, as the care team was before: they see what they saw. So are members of a Part 2
program (all Part 2 programs are treated as one treating program: a simplification, see
docs/architecture.md). Plain Python: no framework imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from shared.consent import ConsentDirective

ProgramKind = Literal["part2", "other"]
PROGRAM_KINDS: tuple[str, ...] = get_args(ProgramKind)
PART2 = "part2"
SUBSTANCE_USE = "substance_use"  # the screening domain and the consent category
# The instruments whose results speak to substance use (../shared/SCREENING.md): their names are
# all an older `screening_recorded` timeline entry holds to say what it is about.
SUBSTANCE_USE_INSTRUMENTS = frozenset({"AUDIT-C", "DAST-10"})


class UnknownProgramKind(ValueError):
    pass


@dataclass(frozen=True)
class Program:
    """The program a team member works in: its id, and whether it is a Part 2 substance-use program."""

    program_id: str
    kind: str  # ProgramKind

    @property
    def is_part2(self) -> bool:
        return self.kind == PART2


def check_program(program_id: str | None, program_kind: str | None) -> Program | None:
    """The program as given on a team membership (both or neither), or None when none was given."""
    if program_id is None and program_kind is None:
        return None
    if not program_id or program_kind is None:
        raise UnknownProgramKind("program_id and program_kind are given together")
    if program_kind not in PROGRAM_KINDS:
        raise UnknownProgramKind(f"unknown program kind {program_kind!r}; known: {', '.join(PROGRAM_KINDS)}")
    return Program(program_id, program_kind)


def made_by_part2(author_program: Program | None) -> bool:
    """A record a member of a Part 2 program made is a Part 2 record."""
    return author_program is not None and author_program.is_part2


def about_substance_use(*, domain: str | None = None, instrument: str | None = None,
                        category: str | None = None) -> bool:
    """A screening result in the substance-use domain, a substance-use instrument's answers, or
    plan text marked with the substance-use consent category is about substance use."""
    return domain == SUBSTANCE_USE or instrument in SUBSTANCE_USE_INSTRUMENTS or category == SUBSTANCE_USE


def may_see_part2(reader_program: Program | None, directives: Iterable[ConsentDirective], at: datetime) -> bool:
    """Whether a care-team member from `reader_program` may see Part 2 records now: always from a
    Part 2 program (or with no program recorded); from another program only while a directive in
    force names substance use for the care team or for that program."""
    if reader_program is None or reader_program.is_part2:
        return True
    return any(d.allows("care_team", None, SUBSTANCE_USE, at)
               or d.allows("program", reader_program.program_id, SUBSTANCE_USE, at) for d in directives)
