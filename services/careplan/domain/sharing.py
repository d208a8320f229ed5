"""What family, natural supports and outside agencies may see: only what the person consented to.

Each part of the record belongs to one consent category, and a part is shown only when a directive
in force names its category for that recipient. Substance use is its own category and is never
implied (shared/consent.py): screening results on substance use stay hidden without it.
Free text (goals and supports) is never put in a category by guessing from its words or its life
domain: "keep taking my methadone" sits in clinical care, "stop drinking" in no domain at all. It
is shared only in the category it was marked with when written, or later by the person; unmarked
text stays within the team. Medication collaboration notes are not shared this way at all: a
medication can reveal substance-use treatment, and notes are for the care team.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from services.careplan.domain.plan import CarePlan, Goal, Support
from services.careplan.domain.safety_plan import SafetyPlanVersion
from services.careplan.domain.timeline import CrisisContact, ScreeningResult, Timeline
from shared.consent import CATEGORIES, ConsentDirective, categories_allowed
from shared.disclosures import Disclosure, directives_allowing

# The consent category each screening domain's results fall under.
SCREENING_CATEGORY = {
    "mental_health": "mental_health", "trauma": "mental_health", "suicide_risk": "crisis",
    "substance_use": "substance_use",
}




# The timeline's events that record consent directives: what decides whether anything is shared.
CONSENT_EVENTS = ("ConsentNoted", "ConsentRevocationNoted")


def directives_from(events: Iterable[Any]) -> dict[str, ConsentDirective]:
    """The directives as these CONSENT_EVENTS leave them, applied in order as the timeline does:
    enough to decide whether a recipient may see anything, without reading the rest of the timeline."""
    directives: dict[str, ConsentDirective] = {}
    for consent in events:
        if isinstance(consent, Timeline.ConsentNoted):
            directives[consent.directive_id] = ConsentDirective(
                consent.directive_id, consent.recipient_kind, consent.recipient_id, tuple(consent.categories),
                consent.starts_at, consent.expires_at)
        elif consent.directive_id in directives:
            directives[consent.directive_id] = directives[consent.directive_id].revoked(consent.revoked_at)
    return directives


@dataclass(frozen=True)
class SharedRecord:
    person_id: UUID
    categories: frozenset[str]  # what the recipient may see now; everything else is withheld
    preferred_name: str | None
    goals: tuple[Goal, ...] | None  # those marked with a category shared now; None: there is no plan
    supports: tuple[Support, ...] | None
    next_review_on: date | None
    screening_results: tuple[ScreeningResult, ...] | None
    crisis_contacts: tuple[CrisisContact, ...] | None
    safety_plan: SafetyPlanVersion | None


def shared_record(timeline: Timeline, plan: CarePlan | None, safety_plan: SafetyPlanVersion | None,
                  next_review_on: date | None, recipient_kind: str, recipient_id: str | None,
                  at: datetime, directives: Iterable[ConsentDirective] | None = None) -> SharedRecord | None:
    """The person's record as this recipient may see it at `at`, or None if they may see nothing.
    `directives`: the person's consent directives (default: those on this timeline; after a merge,
    those given on every record merged into it)."""
    in_force = timeline.consents.values() if directives is None else directives
    allowed = categories_allowed(in_force, recipient_kind, recipient_id, at)
    if not allowed:
        return None
    general = "general" in allowed
    crisis = "crisis" in allowed
    results = tuple(result for result in timeline.latest_by_domain().values()
                    if SCREENING_CATEGORY[result.domain] in allowed)
    goals = supports = None
    if plan is not None:
        goals = tuple(g for g in plan.active_goals if g.sharing_category in allowed)
        supports = tuple(s for s in plan.active_supports if s.sharing_category in allowed)
    return SharedRecord(
        person_id=timeline.id,
        categories=allowed,
        preferred_name=timeline.preferred_name if general else None,
        goals=goals,
        supports=supports,
        next_review_on=next_review_on if general else None,
        screening_results=results if allowed & {"mental_health", "substance_use", "crisis"} else None,
        crisis_contacts=tuple(timeline.crisis_contacts) if crisis else None,
        # The people a person asks for help are often the ones they share their safety plan with.
        safety_plan=safety_plan if crisis else None,
    )


# The parts of a shared record, by the names the accounting of disclosures lists them under.
PART_NAMES = (("preferred_name", "preferred name"), ("goals", "goals"), ("supports", "supports"),
              ("next_review_on", "next review date"), ("screening_results", "screening results"),
              ("crisis_contacts", "crisis contacts"), ("safety_plan", "safety plan"))


def disclosed_parts(record: SharedRecord) -> tuple[str, ...]:
    """What of the record the recipient was actually shown: parts present and not empty."""
    shown = []
    for attribute, name in PART_NAMES:
        value = getattr(record, attribute)
        if value is None or (isinstance(value, tuple) and not value):
            continue
        if isinstance(value, tuple):
            name = f"{name} ({len(value)})"
        shown.append(name)
    return tuple(shown)


def shared_record_disclosure(record: SharedRecord, disclosure_id: str, directives: Iterable[ConsentDirective],
                             recipient_kind: str, recipient_id: str | None, recipient_agency: str | None,
                             purpose: str, at: datetime) -> Disclosure:
    """The accounting's entry for showing `record` to this recipient: names of parts and categories,
    never their content. Showing nothing but which categories are shared still discloses that
    the person has a record here, so it is an entry too."""
    categories = tuple(c for c in CATEGORIES if c in record.categories)
    parts = disclosed_parts(record)
    shown = ", ".join(parts) if parts else "that a record exists, and which categories are shared"
    return Disclosure(
        disclosure_id=disclosure_id, person_id=record.person_id, disclosed_at=at, recipient_kind=recipient_kind,
        recipient_id=recipient_id, recipient_agency=recipient_agency, recipient_address=None,
        channel="shared_record", categories=categories, parts=parts, purpose=purpose,
        consent_directives=directives_allowing(directives, recipient_kind, recipient_id, categories, at),
        description=f"Care record shared by consent ({', '.join(c.replace('_', ' ') for c in categories)}): {shown}")
