"""The accounting of disclosures (45 CFR 164.528; 42 CFR 2.25): each time something about a person
leaves the treating team, a `Disclosed` event in the disclosing service's own store says when, to
whom, what (consent categories and the names of the parts, never their content), why (an HL7
PurposeOfUse code) and under which consent directives.

This is not the log of reads (who read what, also on the team's side): it lists only what went
outside the treating team, which is what a person may ask to see.

One ledger per person and service (`DisclosureLedger`, id uuid5 of the person): a person's
disclosures are one aggregate's events, read with one query; two disclosures of the same person
at once conflict on the version and the loser is retried (rare: each is one short write). The
ledger keeps only a count in memory; the accounting reads its events.

Which rule's window an entry falls under: 42 CFR Part 2 when substance-use information was
disclosed (3 years, 2.25), else HIPAA (6 years, 164.528). Plain Python: no framework imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from shared.consent import ConsentDirective
from shared.domain import Provenance
from shared.person_aggregate import PersonAggregate, command

# HL7 v3 PurposeOfUse codes (http://terminology.hl7.org/CodeSystem/v3-ActReason) a caller may
# state in `X-Purpose-Of-Use`; TREAT when none is stated. Displays as the code system gives them.
PURPOSE_OF_USE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PURPOSES_OF_USE: dict[str, str] = {
    "TREAT": "treatment", "ETREAT": "Emergency Treatment", "CAREMGT": "care management",
    "COC": "coordination of care", "HPAYMT": "healthcare payment", "HOPERAT": "healthcare operations",
    "HRESCH": "healthcare research", "PUBHLTH": "public health", "HLEGAL": "legal",
    "HCOMPL": "compliance", "PATRQT": "patient requested", "FAMRQT": "family requested",
    "PWATRNY": "power of attorney", "SUPNWK": "support network", "HSYSADMIN": "system administration",
    "HQUALIMP": "health quality improvement", "HMARKT": "healthcare marketing", "THREAT": "threat",
}
DEFAULT_PURPOSE = "TREAT"
PURPOSE_HEADER = "X-Purpose-Of-Use"  # where an HTTP caller states it
# Why an auditor reads (`carecoord audit ... --purpose`, by default): compliance.
AUDIT_PURPOSE = "HCOMPL"

SUBSTANCE_USE = "substance_use"
PART_2_WINDOW_YEARS = 3  # 42 CFR 2.25: disclosures made with consent, over the past 3 years
HIPAA_WINDOW_YEARS = 6  # 45 CFR 164.528: over the past 6 years

CHANNELS = ("shared_record", "webhook", "stream")


class UnknownPurpose(ValueError):
    pass


def purpose_of_use(stated: str | None) -> str:
    """The code stated (TREAT when none); an unknown code is refused rather than recorded."""
    if stated is None or not stated.strip():
        return DEFAULT_PURPOSE
    code = stated.strip().upper()
    if code not in PURPOSES_OF_USE:
        raise UnknownPurpose(f"not an HL7 PurposeOfUse code this service knows: one of {', '.join(PURPOSES_OF_USE)}")
    return code


@dataclass(frozen=True)
class Disclosure:
    """One disclosure outside the treating team, as recorded and as listed."""

    disclosure_id: str
    person_id: UUID
    disclosed_at: datetime
    recipient_kind: str  # "named_person" (family, a natural support) or "outside_agency"
    recipient_id: str | None  # the person's subject, or the agency
    recipient_agency: str | None
    recipient_address: str | None  # where it went, when known (a webhook's host), never a full URL
    channel: str  # CHANNELS: how it left
    categories: tuple[str, ...]  # consent categories disclosed
    parts: tuple[str, ...]  # names of what was disclosed (record parts, notice kinds), never content
    purpose: str  # an HL7 PurposeOfUse code
    consent_directives: tuple[str, ...]  # the directives in force that allowed it
    description: str  # a sentence naming what was disclosed, for the person's accounting

    @property
    def rule(self) -> str:
        return "42 CFR 2.25" if SUBSTANCE_USE in self.categories else "45 CFR 164.528"

    @property
    def window_years(self) -> int:
        return PART_2_WINDOW_YEARS if SUBSTANCE_USE in self.categories else HIPAA_WINDOW_YEARS


def years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February in a year that has none
        return moment.replace(year=moment.year - years, day=28)


def accounting(disclosures: Iterable[Disclosure], now: datetime, since: date | None = None) -> list[Disclosure]:
    """What the accounting lists at `now`: each entry within its rule's window (and on or after
    `since`, when given), oldest first."""
    listed = []
    for disclosure in disclosures:
        if disclosure.disclosed_at < years_before(now, disclosure.window_years):
            continue
        if since is not None and disclosure.disclosed_at.date() < since:
            continue
        listed.append(disclosure)
    return sorted(listed, key=lambda d: (d.disclosed_at, d.disclosure_id))


def directives_allowing(directives: Iterable[ConsentDirective], recipient_kind: str, recipient_id: str | None,
                        categories: Iterable[str], at: datetime) -> tuple[str, ...]:
    """The ids of the directives in force at `at` that let this recipient see any of `categories`."""
    wanted = list(categories)
    return tuple(sorted({d.directive_id for d in directives for category in wanted
                         if d.allows(recipient_kind, recipient_id, category, at)}))


LEDGER_NAMESPACE = UUID("9f4c2d7e-3b1a-4e8f-a6c5-2d9b7e1f0c34")


class DisclosureLedger(PersonAggregate):
    """A person's disclosures from one service: each a `Disclosed` event carrying `person_id`."""

    if TYPE_CHECKING:  # The classes @event("...") defines as the class body runs, for mypy
        Opened: ClassVar[type[Any]]
        Disclosed: ClassVar[type[Any]]

    @staticmethod
    def create_id(person_id: UUID, **_: object) -> UUID:
        return uuid5(LEDGER_NAMESPACE, str(person_id))

    @event("Opened")
    def __init__(self, person_id: UUID, provenance: Provenance) -> None:
        self.person_id = person_id
        self.count = 0

    @command
    def record(self, disclosure: Disclosure, provenance: Provenance) -> None:
        self._disclosed(
            disclosure_id=disclosure.disclosure_id, disclosed_at=disclosure.disclosed_at,
            recipient_kind=disclosure.recipient_kind, recipient_id=disclosure.recipient_id,
            recipient_agency=disclosure.recipient_agency, recipient_address=disclosure.recipient_address,
            channel=disclosure.channel, categories=list(disclosure.categories), parts=list(disclosure.parts),
            purpose=disclosure.purpose, consent_directives=list(disclosure.consent_directives),
            description=disclosure.description)

    @event("Disclosed")
    def _disclosed(self, disclosure_id: str, disclosed_at: datetime, recipient_kind: str, recipient_id: str | None,
                   recipient_agency: str | None, recipient_address: str | None, channel: str,
                   categories: list[str], parts: list[str], purpose: str, consent_directives: list[str],
                   description: str) -> None:
        self.count += 1


def from_event(disclosed: Any) -> Disclosure:
    """The disclosure a stored `DisclosureLedger.Disclosed` event records."""
    return Disclosure(
        disclosure_id=disclosed.disclosure_id, person_id=disclosed.person_id, disclosed_at=disclosed.disclosed_at,
        recipient_kind=disclosed.recipient_kind, recipient_id=disclosed.recipient_id,
        recipient_agency=disclosed.recipient_agency, recipient_address=disclosed.recipient_address,
        channel=disclosed.channel, categories=tuple(disclosed.categories), parts=tuple(disclosed.parts),
        purpose=disclosed.purpose, consent_directives=tuple(disclosed.consent_directives),
        description=disclosed.description)


def disclosure_id(*parts: object) -> str:
    """A stable id from what identifies the disclosure (a retried save records the same id)."""
    return str(uuid5(NAMESPACE_URL, "carecoord:disclosure:" + "/".join(map(str, parts))))

