"""Whether a recipient may be sent a notification about a person, decided at the moment it leaves.

Decided from what holds *now* (the team as it is, the person's consent directives as they are),
never from what held when a subscription was made: a member who left the team stops receiving, and
a revoked directive stops what it shared at once. A refusal is a reason, recorded with the
suppressed delivery, never an exception: nothing is dropped silently.

- Staff on the person's care team receive every category: they are the treating team. Except,
  when the team spans programs (shared/part2.py), substance-use information (a substance-use
  result, or a note or decision of a Part 2 program) reaches a member from another program only
  while a directive names substance use for their program or the whole care team. Crisis notices
  are never substance-use information here: every member hears of a crisis.
- A support person or an outside agency receives a category only while a directive of the person
  shares it with them; substance-use information only when a directive names it (42 CFR Part 2).
- A notice marked team-only (no consent category describes it safely) never leaves the team.
- Nobody else is sent care notifications: auditors read histories, agency systems publish.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from uuid import UUID

from shared.access import STAFF, Principal, Role
from shared.consent import CATEGORIES, ConsentDirective, categories_allowed
from shared.disclosures import DEFAULT_PURPOSE, Disclosure, directives_allowing
from shared.part2 import SUBSTANCE_USE, Program, may_see_part2

# For a notice no consent category describes safely (a medication question may be about
# treatment for substance use): it stays within the care team.
TEAM_ONLY = "team_only"
# Team only, and about a Part 2 program's record (its medication notes and decisions): within the
# team, members from another program are sent it only as substance-use information.
TEAM_ONLY_PART2 = "team_only_part2"
NOTICE_CATEGORIES = (*CATEGORIES, TEAM_ONLY, TEAM_ONLY_PART2)
PART2_CATEGORIES = frozenset({SUBSTANCE_USE, TEAM_ONLY_PART2})

OUTSIDE_RECIPIENT_KINDS = {Role.SUPPORT_PERSON: "named_person", Role.OUTSIDE_AGENCY: "outside_agency"}


def refusal(recipient: Principal, category: str, team: Mapping[str, str], consents: Iterable[ConsentDirective],
            at: datetime, programs: Mapping[str, Program] | None = None) -> str | None:
    """None when `recipient` may be sent a notice of this category now; otherwise why not.
    `programs`: the team members' programs, where given (none: the team is one program)."""
    if recipient.role in STAFF:
        if recipient.subject not in team:
            return "not on the person's care team"
        if category in PART2_CATEGORIES and not may_see_part2((programs or {}).get(recipient.subject), consents, at):
            return ("substance-use information of a Part 2 program: no consent directive of the person names "
                    "this member's program or the care team now")
        return None
    kind = OUTSIDE_RECIPIENT_KINDS.get(recipient.role)
    if kind is None:
        return f"a {recipient.role.value.replace('_', ' ')} is not sent care notifications"
    if category in (TEAM_ONLY, TEAM_ONLY_PART2):
        return "this kind of notice stays within the care team"
    recipient_id = recipient.agency if recipient.role is Role.OUTSIDE_AGENCY else recipient.subject
    if category not in categories_allowed(consents, kind, recipient_id, at):
        return f"no consent directive of the person shares {category} information with this recipient now"
    return None


def outside_recipient(role: str, subject: str, agency: str | None) -> tuple[str, str | None] | None:
    """(recipient kind, id) in consent directives' terms for a recipient outside the treating
    team (a support person, an outside agency); None for anyone else (staff, care-team apps):
    what reaches them is not a disclosure to account for."""
    kind = OUTSIDE_RECIPIENT_KINDS.get(Role(role))
    if kind is None:
        return None
    return kind, agency if kind == "outside_agency" else subject


CHANNEL_WORDS = {"webhook": "Webhook delivery", "stream": "Live stream (Server-Sent Events)"}


def notice_disclosure(channel: str, disclosure_id: str, person_id: UUID, recipient: tuple[str, str | None],
                      recipient_agency: str | None, host: str | None, kind: str, category: str, summary: bool,
                      consents: Iterable[ConsentDirective], at: datetime, purpose: str = DEFAULT_PURPOSE) -> Disclosure:
    """The accounting's entry for a notice sent to a recipient outside the treating team (to their
    webhook, or on their live stream): which kind of notice and its category, whether its
    sentence went with it; never the sentence."""
    recipient_kind, recipient_id = recipient
    what = f"a '{kind.replace('_', ' ')}' notice ({category.replace('_', ' ')})"
    return Disclosure(
        disclosure_id=disclosure_id, person_id=person_id, disclosed_at=at, recipient_kind=recipient_kind,
        recipient_id=recipient_id, recipient_agency=recipient_agency, recipient_address=host, channel=channel,
        categories=(category,), parts=(f"notice: {kind}", *(("notice summary",) if summary else ())),
        purpose=purpose,
        consent_directives=directives_allowing(consents, recipient_kind, recipient_id, (category,), at),
        description=f"{CHANNEL_WORDS[channel]} of {what}"
                    f"{' with its summary sentence' if summary else ', ids and time only'}")
