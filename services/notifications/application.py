"""Notification use cases. Synchronous, like all eventsourcing code."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from services.notifications.domain.disclosure import TEAM_ONLY, notice_disclosure, outside_recipient, refusal
from shared.part2 import may_see_part2
from services.notifications.domain.notifications import (
    DueNotification,
    PersonNotifications,
)
from services.notifications.follow_up_use_cases import CrisisFollowUpUseCases
from shared.access import Principal, RecordContext
from shared.consent import ConsentDirective
from shared.contracts.intake import ConsentGrantedV1, ConsentRevokedV1
from shared.disclosures import DisclosureLedger
from shared.domain import Provenance, UpstreamRef
from shared.merge_notes import DUPLICATES_NOTES, MERGED_INTO_NOTES, duplicates, merged_into
from shared.following import FollowerApplication, UpstreamChange


DISCLOSURE_SAVE_ATTEMPTS = 8


class NotificationsApplication(CrisisFollowUpUseCases, FollowerApplication[PersonNotifications]):
    name = "Notifications"
    follower_class = PersonNotifications

    @staticmethod
    def team_notice(upstream: UpstreamRef, kind: str, message: str, due_at: datetime,
                    urgent: bool = False, audience: str = "care_team", category: str = TEAM_ONLY,
                    named: tuple[str, ...] = ()) -> UpstreamChange:
        return UpstreamChange(upstream, lambda due: due.notification_due(
            upstream, kind, audience, message, due_at, urgent, category, named))

    @staticmethod
    def consent_noted(upstream: UpstreamRef, granted: ConsentGrantedV1) -> UpstreamChange:
        return UpstreamChange(upstream, lambda person: person.note_consent(
            upstream, granted.directive_id, granted.recipient_kind, granted.recipient_id, list(granted.categories),
            granted.starts_at, granted.expires_at))

    @staticmethod
    def consent_revocation_noted(upstream: UpstreamRef, revoked: ConsentRevokedV1) -> UpstreamChange:
        return UpstreamChange(upstream, lambda person: person.note_consent_revoked(
            upstream, revoked.directive_id, revoked.revoked_at))

    @staticmethod
    def no_notice(upstream: UpstreamRef) -> UpstreamChange:
        return UpstreamChange(upstream, lambda due: due.nothing_to_notify(upstream))

    def notify_team(self, upstream: UpstreamRef, kind: str, message: str, due_at: datetime) -> bool:
        return self.apply_change(self.team_notice(upstream, kind, message, due_at))

    def nothing_to_notify(self, upstream: UpstreamRef) -> bool:
        return self.apply_change(self.no_notice(upstream))

    def record_context(self, person_id: UUID) -> RecordContext:
        """What decides access, from the team's events alone: the notices are loaded only for
        someone allowed to see them."""
        return RecordContext(person_id, frozenset(self.followed_team(person_id)))

    def refusal(self, recipient: Principal, person_id: UUID, category: str, at: datetime) -> str | None:
        """Why `recipient` may not be sent a notice of this category about the person now (None:
        they may), from the team and the consent directives as they are at this moment."""
        return self.refusals(recipient, [(person_id, category)], at)[0]

    def refusals(self, recipient: Principal, notices: Sequence[tuple[UUID, str]], at: datetime) -> list[str | None]:
        """`refusal` for several notices (person id, category) at once, as things are now: every
        person's team and directives brought up to date with one query, whatever the number (and
        one more for people intake merged: see `as_one_person`)."""
        ids = {person_id: self.follower_class.create_id(person_id=person_id) for person_id, _ in notices}
        found = self.read_current_many({follower_id: person_facts for follower_id in ids.values()})
        answers: list[str | None] = []
        for person_id, category in notices:
            known = found.get(ids[person_id])
            if known is None:
                answers.append("no such person is known here")
                continue
            team, consents, programs = self.as_one_person(known)
            answers.append(refusal(recipient, category, team, consents, at, programs))
        return answers

    def record_streamed_disclosure(self, recipient: Principal, person_id: UUID, kind: str, category: str,
                                   purpose: str, at: datetime) -> None:
        """A notice about to be sent on the live stream of a support person or an outside agency,
        recorded in the person's accounting of disclosures first (nothing for the treating team).
        A failure raises, and the notice is not sent (the client resumes from its last id)."""
        outside = outside_recipient(recipient.role.value, recipient.subject, recipient.agency)
        if outside is None:
            return
        follower_id = self.follower_class.create_id(person_id=person_id)
        consents = self.read_current_many({follower_id: lambda person: list(person.consents.values())})
        disclosure = notice_disclosure("stream", str(uuid4()), person_id, outside, recipient.agency, None, kind,
                                       category, False, consents.get(follower_id, []), at, purpose)
        provenance = Provenance(actor_id=recipient.subject, actor_role=recipient.role.value,
                                correlation_id=disclosure.disclosure_id)
        ledger_id = DisclosureLedger.create_id(person_id)
        for _ in range(DISCLOSURE_SAVE_ATTEMPTS):  # another writer of the ledger (a delivery) may come first
            ledger = self.check_out_many([ledger_id]).get(ledger_id) or DisclosureLedger(person_id, provenance)
            ledger.record(disclosure, provenance)
            try:
                self.record(ledger)
                return
            except IntegrityError:
                self.forget([ledger_id])
        raise RuntimeError("could not record a disclosure: the ledger kept changing")

    def part2_shown(self, reader: Principal, person_id: UUID, at: datetime) -> bool:
        """Whether this reader is shown the person's Part 2 substance-use notices now (shared/part2.py):
        not a member from another program, unless a directive names their program or the team."""
        found = self._facts_of(person_id)
        if found is None:
            return True
        _, consents, programs = self.as_one_person(found)
        return may_see_part2(programs.get(reader.subject), consents, at)

    def as_one_person(self, known: PersonFacts) -> tuple[dict[str, str], list[ConsentDirective], dict[str, Any]]:
        """The team (with its members' programs) and consent directives that decide a notice about
        this record, merges followed: a record merged away is decided with its survivor's team
        (the union, from careplan), and every record of the person contributes its directives
        (each holds as the person gave it, revocations included). A record no merge touched is
        decided alone."""
        team, consents, merged_into, duplicates, programs = known
        if merged_into is None and not duplicates:
            return team, consents, programs
        survivor = self._facts_of(UUID(merged_into)) if merged_into else None
        if survivor is not None:
            team, programs, duplicates = survivor[0], survivor[4], [*survivor[3], *duplicates]
            consents = [*survivor[1], *consents]
        for duplicate in duplicates:
            other = self._facts_of(UUID(duplicate))
            if other is not None:
                consents += [c for c in other[1] if c not in consents]
        return team, consents, programs

    def _facts_of(self, person_id: UUID) -> PersonFacts | None:
        follower_id = self.follower_class.create_id(person_id=person_id)
        return self.read_current_many({follower_id: person_facts}).get(follower_id)

    def survivor_of(self, person_id: UUID) -> UUID:
        """The record that stands for this person now (itself unless intake merged it away), from
        the merge events alone: deciding it reads nothing else of a record the caller may not see."""
        for _ in range(16):  # a chain of merges, followed to its end
            survivor = merged_into(person_id, self.follower_events(person_id, *MERGED_INTO_NOTES))
            if survivor is None:
                return person_id
            person_id = survivor
        return person_id

    def records_of(self, person_id: UUID) -> list[UUID]:
        """This record and those merged into it, survivor first (from the merge events alone)."""
        return [person_id, *duplicates(self.follower_events(person_id, *DUPLICATES_NOTES))]

    def due_notifications(self, person_id: UUID) -> list[DueNotification] | None:
        found = self.follower(person_id)
        return None if found is None else list(found.due)

    def due_notifications_of_person(self, person_id: UUID) -> list[DueNotification] | None:
        """What is due about this record and those merged into it, in time order (None: unknown)."""
        found = [self.due_notifications(record) for record in self.records_of(person_id)]
        if found[0] is None:
            return None
        due = [notice for notices in found for notice in notices or []]
        return due if len(found) == 1 else sorted(due, key=lambda notice: notice.due_at)


# A person's team, consent directives, the record they were merged into, records merged into
# theirs, and the team's members' programs (shared/part2.py).
PersonFacts = tuple[dict[str, str], list[ConsentDirective], str | None, list[str], dict[str, Any]]


def person_facts(person: PersonNotifications) -> PersonFacts:
    return (dict(person.team), list(person.consents.values()), person.merged_into, list(person.merged_duplicates),
            dict(person.programs))
