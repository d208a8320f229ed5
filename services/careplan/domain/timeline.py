"""One person's timeline as the care team sees it, built from what other services publish.

Besides a one-line entry for every upstream event, the timeline keeps what the care plan must
answer to: each screening result by domain, each crisis contact and when its follow-up is due,
and how the person is named. A positive screening or a crisis contact prompts a plan review, and a
crisis contact marks the safety plan for review (see reviews.py and safety_plan.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from eventsourcing.domain import event

from services.careplan.domain.reviews import ReviewPrompt
from shared.consent import ConsentDirective
from shared.domain import UpstreamRef
from shared.followers import PersonFollower
from shared.part2 import about_substance_use

# The domains intake's screenings speak to, in the order the team sees them.
SCREENING_DOMAINS = ("mental_health", "substance_use", "trauma", "suicide_risk")


@dataclass(frozen=True)
class TimelineEntry:
    source: str
    sequence: int
    kind: str
    summary: str
    occurred_at: datetime
    # About substance use (shared/part2.py): shown to members from another program only by consent.
    part2: bool = False


@dataclass(frozen=True)
class ScreeningResult:
    screening_id: str
    instrument: str
    domain: str  # mental_health, substance_use, trauma, suicide_risk
    total: int | None
    band: str | None
    positive: bool | None
    flags: tuple[str, ...]
    complete: bool
    scored_at: datetime


@dataclass(frozen=True)
class CrisisContact:
    contact_id: str
    kind: str
    occurred_at: datetime
    outcome: str
    follow_up_due: datetime


class Timeline(PersonFollower):
    if TYPE_CHECKING:  # The classes @event("...") defines as the class body runs, for mypy (fields unseen)
        EntryAdded: ClassVar[type[Any]]
        PersonNamed: ClassVar[type[Any]]
        ScreeningResultNoted: ClassVar[type[Any]]
        CrisisContactNoted: ClassVar[type[Any]]
        ConsentNoted: ClassVar[type[Any]]
        ConsentRevocationNoted: ClassVar[type[Any]]
        DuplicateMergedIn: ClassVar[type[Any]]
        MergedAway: ClassVar[type[Any]]
        MergeUndoneNoted: ClassVar[type[Any]]

    # The events that decide which records are one person (see merges.py): read alone, for aliases.
    MERGE_EVENTS: ClassVar[tuple[str, ...]] = ("DuplicateMergedIn", "MergedAway", "MergeUndoneNoted")

    def __init__(self, person_id) -> None:  # noqa: ANN001 - the id type comes from PersonFollower
        super().__init__(person_id)
        self.entries: list[TimelineEntry] = []
        self.screenings: list[ScreeningResult] = []
        self.crisis_contacts: list[CrisisContact] = []
        self.preferred_name: str | None = None
        self.pronouns: str | None = None
        self.preferred_language: str | None = None
        self.consents: dict[str, ConsentDirective] = {}
        # Records merged into this one (survivor side), and the record this one was merged into.
        self.merged_duplicates: list[str] = []
        self.merged_into: str | None = None

    @event("EntryAdded")
    def add_entry(self, upstream: UpstreamRef, kind: str, summary: str, occurred_at: datetime) -> None:
        self._advance(upstream)
        # A screening's answers (the older `screening_recorded`) say what they are about only by
        # the instrument, which their summary starts with (translation.timeline_entry).
        part2 = kind == "screening_recorded" and about_substance_use(instrument=summary.split(" ", 1)[0])
        self._append(upstream, kind, summary, occurred_at, part2)

    @event("PersonNamed")
    def note_person(self, upstream: UpstreamRef, kind: str, summary: str, occurred_at: datetime,
                    details: dict[str, str | None]) -> None:
        """Registered, or details amended: `details` holds the fields given (name, pronouns, language)."""
        self._advance(upstream)
        self._append(upstream, kind, summary, occurred_at)
        for field in ("preferred_name", "pronouns", "preferred_language"):
            if field in details:
                setattr(self, field, details[field])

    @event("ScreeningResultNoted")
    def note_screening_result(self, upstream: UpstreamRef, summary: str, occurred_at: datetime,
                              screening_id: str, instrument: str, domain: str, total: int | None, band: str | None,
                              positive: bool | None, flags: list[str], complete: bool) -> None:
        self._advance(upstream)
        self._append(upstream, "screening_scored", summary, occurred_at, about_substance_use(domain=domain))
        self.screenings.append(ScreeningResult(screening_id, instrument, domain, total, band, positive,
                                               tuple(flags), complete, occurred_at))

    @event("CrisisContactNoted")
    def note_crisis_contact(self, upstream: UpstreamRef, summary: str, contact_id: str, kind: str,
                            occurred_at: datetime, outcome: str, follow_up_due: datetime) -> None:
        self._advance(upstream)
        self._append(upstream, "crisis_contact", summary, occurred_at)
        self.crisis_contacts.append(CrisisContact(contact_id, kind, occurred_at, outcome, follow_up_due))

    @event("ConsentNoted")
    def note_consent(self, upstream: UpstreamRef, summary: str, occurred_at: datetime, directive_id: str,
                     recipient_kind: str, recipient_id: str | None, categories: list[str], starts_at: datetime,
                     expires_at: datetime | None) -> None:
        self._advance(upstream)
        self._append(upstream, "consent_granted", summary, occurred_at)
        self.consents[directive_id] = ConsentDirective(directive_id, recipient_kind, recipient_id, tuple(categories),
                                                       starts_at, expires_at)

    @event("ConsentRevocationNoted")
    def note_consent_revoked(self, upstream: UpstreamRef, summary: str, occurred_at: datetime, directive_id: str,
                             revoked_at: datetime) -> None:
        self._advance(upstream)
        self._append(upstream, "consent_revoked", summary, occurred_at)
        if directive_id in self.consents:  # intake publishes a revocation only after its grant
            self.consents[directive_id] = self.consents[directive_id].revoked(revoked_at)

    @event("DuplicateMergedIn")
    def note_duplicate_merged(self, upstream: UpstreamRef, summary: str, occurred_at: datetime,
                              duplicate_id: str) -> None:
        """Intake merged `duplicate_id` into this person: from now on careplan shows them as one."""
        self._advance(upstream)
        self._append(upstream, "person_merged", summary, occurred_at)
        if duplicate_id not in self.merged_duplicates:
            self.merged_duplicates.append(duplicate_id)

    @event("MergedAway")
    def note_merged_into(self, upstream: UpstreamRef, summary: str, occurred_at: datetime, survivor_id: str) -> None:
        """This record was merged into `survivor_id`: requests for it answer with the survivor's."""
        self._advance(upstream)
        self._append(upstream, "person_merged_into", summary, occurred_at)
        self.merged_into = survivor_id

    @event("MergeUndoneNoted")
    def note_merge_undone(self, upstream: UpstreamRef, summary: str, occurred_at: datetime, survivor_id: str,
                          duplicate_id: str) -> None:
        """Intake split a wrong merge again (on both records' streams): each stands alone again."""
        self._advance(upstream)
        self._append(upstream, "merge_undone", summary, occurred_at)
        if duplicate_id in self.merged_duplicates:
            self.merged_duplicates.remove(duplicate_id)
        if self.merged_into == survivor_id and str(self.id) == duplicate_id:
            self.merged_into = None

    def latest_by_domain(self) -> dict[str, ScreeningResult]:
        latest: dict[str, ScreeningResult] = {}
        for result in self.screenings:  # in the order intake scored them
            latest[result.domain] = result
        return latest

    def review_prompts(self) -> list[ReviewPrompt]:
        """What intake reported that the care plan should be reviewed for."""
        prompts = [ReviewPrompt("positive_screening", s.screening_id, _day(s.scored_at))
                   for s in self.screenings if s.positive]
        prompts += [ReviewPrompt("crisis_contact", c.contact_id, _day(c.occurred_at)) for c in self.crisis_contacts]
        return prompts

    def _append(self, upstream: UpstreamRef, kind: str, summary: str, occurred_at: datetime,
                part2: bool = False) -> None:
        self.entries.append(TimelineEntry(upstream.source, upstream.sequence, kind, summary, occurred_at, part2))


def _day(moment: datetime) -> date:
    return moment.date()
