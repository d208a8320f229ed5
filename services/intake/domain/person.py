"""A person served, as intake knows them: who registered them, and the screenings they completed.

Every event of a person's intake history is on this one aggregate, so its version numbers are the
per-person sequence that consumers use to apply a person's events in order.

Two agencies may register the same person. Merging keeps both records and both histories: the
duplicate records that it was merged into the survivor and from then on records nothing new; the
survivor records the duplicate it absorbed and answers to the duplicate's agency identifiers too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import event

from services.intake.domain import crisis
from services.intake.domain.consent import ConsentDirective, InvalidConsent, check_directive
from services.intake.domain.refusals import (
    CannotMerge,
    IdempotencyKeyReused,
    MergedAway,
    NoAnswers,
    UnknownDetail,
    UnknownMerge,
)
from services.intake.domain.scoring import Answer, ScoringSettings, ScreeningResult, score
from shared.domain import Provenance
from shared.person_aggregate import PersonAggregate, command

PERSON_NAMESPACE = UUID("0d6c3c7e-3f0e-4d84-8a6c-6d0f1a2b9c01")
MERGE_NAMESPACE = UUID("7f1d2a4e-9c3b-4e5f-8a6d-2b1c0e9f4a73")


def merge_id_of(survivor_id: UUID, duplicate_id: UUID, times_before: int) -> UUID:
    """A merge's id: derived from the pair and how often they were merged before (a pair merged,
    split, and merged again is two merges), so replaying the history gives the same ids."""
    return uuid5(MERGE_NAMESPACE, f"{survivor_id}/{duplicate_id}/{times_before}")


AMENDABLE = ("preferred_name", "pronouns", "preferred_language", "date_of_birth")


class Person(PersonAggregate):
    if TYPE_CHECKING:  # The classes @event("...") defines as the class body runs, for mypy (fields unseen)
        Registered: ClassVar[type[Any]]
        MergedInto: ClassVar[type[Any]]
        DuplicateMerged: ClassVar[type[Any]]
        MergeUndone: ClassVar[type[Any]]
        Unmerged: ClassVar[type[Any]]
        DetailsAmended: ClassVar[type[Any]]
        CrisisContactRecorded: ClassVar[type[Any]]
        ConsentGranted: ClassVar[type[Any]]
        ConsentRevoked: ClassVar[type[Any]]
        ScreeningCompleted: ClassVar[type[Any]]
        ScreeningRecorded: ClassVar[type[Any]]
        ScreeningScored: ClassVar[type[Any]]
        UrgentScreeningResult: ClassVar[type[Any]]

    # Events stored before every event named the person read back with this record's id, which is the person's.
    class Event(PersonAggregate.Event):
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["person_id"] = state["originator_id"]

    @staticmethod
    def create_id(agency: str, agency_person_id: str, **_: object) -> UUID:
        # The same agency record always maps to the same person: a repeated registration collides
        # with the first instead of creating a duplicate.
        return uuid5(PERSON_NAMESPACE, f"{agency}/{agency_person_id}")

    @event("Registered")
    def __init__(
        self,
        agency: str,
        agency_person_id: str,
        preferred_name: str,
        date_of_birth: date | None,
        provenance: Provenance,
        pronouns: str | None = None,
        preferred_language: str | None = None,
    ) -> None:
        self.person_id = self.id  # the person's own record: its id is the person's (PersonAggregate)
        self.agency = agency
        self.agency_person_id = agency_person_id
        self.preferred_name = preferred_name
        self.date_of_birth = date_of_birth
        self.pronouns = pronouns
        self.preferred_language = preferred_language
        self.screenings: dict[UUID, ScreeningResult | None] = {}
        self.crisis_contacts: dict[UUID, datetime] = {}  # contact id -> follow-up due
        self.consents: dict[str, ConsentDirective] = {}
        # Screening, crisis contact or directive id -> the fingerprint of the request that recorded it.
        self.request_fingerprints: dict[str, str] = {}
        # Every agency record this person answers to: their own first, then those of duplicates merged in.
        self.agency_identities: list[tuple[str, str]] = [(agency, agency_person_id)]
        self.merged_duplicates: dict[UUID, str] = {}  # duplicate's id -> the reason given for the merge
        self.merged_into: UUID | None = None
        # Every merge into this record: id -> (duplicate's id, agency records it added, undone).
        self.merges: dict[UUID, tuple[UUID, list[tuple[str, str]], bool]] = {}

    def check_same_request(self, request_id: UUID | str, fingerprint: str | None) -> None:
        """A repeat under an id already recorded must be the same request as the first.

        Records from before fingerprints were kept, and callers that give none, cannot tell: they
        are taken as the same request (the repeat records nothing, as it always did)."""
        recorded = self.request_fingerprints.get(str(request_id))
        if recorded is not None and fingerprint is not None and recorded != fingerprint:
            raise IdempotencyKeyReused(request_id)

    def _remember_request(self, request_id: UUID | str, fingerprint: str | None) -> None:
        if fingerprint is not None:
            self.request_fingerprints[str(request_id)] = fingerprint

    def check_not_merged(self) -> None:
        """A record merged into another records nothing new (MergedAway names the survivor)."""
        if self.merged_into is not None:
            raise MergedAway(self.id, self.merged_into)

    @command
    def merge_duplicate(self, duplicate: Person, reason: str, provenance: Provenance) -> bool:
        """Merge `duplicate` into this person, keeping both histories; False if already merged here.

        The duplicate records `MergedInto` on its own stream and this person `DuplicateMerged` on
        theirs; the caller saves both together, so a merge is never half-recorded.
        """
        if duplicate.id == self.id:
            raise CannotMerge("duplicate_id", "a person cannot be merged into themselves")
        if duplicate.merged_into == self.id:
            return False
        if duplicate.merged_into is not None:
            raise MergedAway(duplicate.id, duplicate.merged_into, field="duplicate_id")
        if self.merged_into is not None:
            raise MergedAway(self.id, self.merged_into, field="survivor_id")
        if not reason.strip():
            raise CannotMerge("reason", "say why these are the same person")
        with duplicate.acting(provenance):
            duplicate._merged_into(self.id, reason)
        # The duplicate may itself have absorbed others before: this person answers to all of them.
        also_known_as = [{"agency": agency, "agency_person_id": record}
                         for agency, record in duplicate.agency_identities[1:]]
        self._duplicate_merged(duplicate.id, duplicate.agency, duplicate.agency_person_id, reason, also_known_as)
        return True

    def current_merge_of(self, duplicate_id: UUID) -> UUID | None:
        """The id of the merge that joined `duplicate_id` into this record, while it stands."""
        return next((merge_id for merge_id, (duplicate, _, undone) in self.merges.items()
                     if duplicate == duplicate_id and not undone), None)

    def duplicate_of_merge(self, merge_id: UUID) -> UUID:
        if merge_id not in self.merges:
            raise UnknownMerge(f"no merge {merge_id} into {self.id}")
        return self.merges[merge_id][0]

    @command
    def undo_merge(self, duplicate: Person, merge_id: UUID, reason: str, provenance: Provenance) -> bool:
        """Split a wrong merge: each record stands alone again, with its own history; the agency
        records the merge added answer to the duplicate again. False if already undone.

        The duplicate records `Unmerged` and this person `MergeUndone`, saved together."""
        duplicate_id, _, undone = self.merges.get(merge_id) or (None, [], False)
        if duplicate_id != duplicate.id:
            raise UnknownMerge(f"no merge {merge_id} of {duplicate.id} into {self.id}")
        if undone:
            return False
        if self.merged_into is not None:
            raise MergedAway(self.id, self.merged_into, field="survivor_id")
        if not reason.strip():
            raise CannotMerge("reason", "say why this merge was wrong")
        with duplicate.acting(provenance):
            duplicate._unmerged(self.id, merge_id, reason)
        self._merge_undone(merge_id, duplicate.id, reason)
        return True

    @event("MergedInto")
    def _merged_into(self, survivor_id: UUID, reason: str) -> None:
        self.merged_into = survivor_id

    @event("Unmerged")
    def _unmerged(self, survivor_id: UUID, merge_id: UUID, reason: str) -> None:
        self.merged_into = None

    @event("MergeUndone")
    def _merge_undone(self, merge_id: UUID, duplicate_id: UUID, reason: str) -> None:
        _, added, _ = self.merges[merge_id]
        self.merges[merge_id] = (duplicate_id, added, True)
        self.merged_duplicates.pop(duplicate_id, None)
        self.agency_identities = [identity for identity in self.agency_identities if identity not in added]

    @event("DuplicateMerged")
    def _duplicate_merged(
        self, duplicate_id: UUID, duplicate_agency: str, duplicate_agency_person_id: str, reason: str,
        also_known_as: list[dict[str, str]],
    ) -> None:
        self.merged_duplicates[duplicate_id] = reason
        added = []
        for identity in [(duplicate_agency, duplicate_agency_person_id),
                         *((i["agency"], i["agency_person_id"]) for i in also_known_as)]:
            if identity not in self.agency_identities:
                self.agency_identities.append(identity)
                added.append(identity)
        times_before = sum(1 for duplicate, _, _ in self.merges.values() if duplicate == duplicate_id)
        self.merges[merge_id_of(self.id, duplicate_id, times_before)] = (duplicate_id, added, False)

    @command
    def amend_details(self, changes: dict[str, Any], provenance: Provenance) -> list[str]:
        """Change how the person is named and addressed; returns the fields that changed."""
        self.check_not_merged()
        unknown = set(changes) - set(AMENDABLE)
        if unknown:
            raise UnknownDetail(f"cannot amend {', '.join(sorted(unknown))}; amendable: {', '.join(AMENDABLE)}")
        changed = {field: value for field, value in changes.items() if getattr(self, field) != value}
        if changed:
            self._details_amended(changed)
        return sorted(changed)

    @event("DetailsAmended")
    def _details_amended(self, changes: dict[str, Any]) -> None:
        for field, value in changes.items():
            setattr(self, field, value)

    @command
    def record_screening(
        self,
        screening_id: UUID,
        instrument: str,
        answers: dict[str, Answer],
        provenance: Provenance,
        sex: str | None = None,
        settings: ScoringSettings = ScoringSettings(),
        fingerprint: str | None = None,
    ) -> ScreeningResult:
        """Record the answers as given with their score by the published rules; a result that
        shows suicide risk is also recorded as urgent, for the care team to act on at once."""
        self.check_not_merged()
        self.check_has_answers(answers)
        result = score(instrument, answers, sex=sex, settings=settings)  # InvalidAnswers names the item
        # One event for the answers and their score: each published event costs a publish, a
        # delivery to every consumer and a commit there (see docs/architecture.md, Performance).
        self._screening_completed(screening_id, instrument, dict(answers), sex, result.as_stored(), fingerprint)
        if result.urgent:
            self._urgent_result(screening_id, instrument, list(result.flags))
        return result

    def has_screening(self, screening_id: UUID) -> bool:
        return screening_id in self.screenings

    def screening_result(self, screening_id: UUID) -> ScreeningResult | None:
        return self.screenings.get(screening_id)

    @command
    def record_crisis_contact(
        self, contact_id: UUID, kind: str, occurred_at: datetime, location: str, responders: list[str],
        what_helped: str, outcome: str, follow_up_due: datetime | None, provenance: Provenance,
        fingerprint: str | None = None,
    ) -> datetime:
        """Record a crisis contact once; returns when the team's follow-up is due."""
        self.check_not_merged()
        crisis.check_kind(kind)
        crisis.check_outcome(outcome)
        crisis.check_aware(occurred_at, "occurred_at")
        due = crisis.follow_up_due(kind, occurred_at, follow_up_due)
        self._crisis_contact_recorded(contact_id, kind, occurred_at, location, list(responders), what_helped,
                                      outcome, due, fingerprint)
        return due

    @event("CrisisContactRecorded")
    def _crisis_contact_recorded(
        self, contact_id: UUID, kind: str, occurred_at: datetime, location: str, responders: list[str],
        what_helped: str, outcome: str, follow_up_due: datetime, fingerprint: str | None = None,
    ) -> None:
        self.crisis_contacts[contact_id] = follow_up_due
        self._remember_request(contact_id, fingerprint)

    @command
    def grant_consent(
        self, directive_id: str, recipient_kind: str, recipient_id: str | None, categories: list[str],
        starts_at: datetime, expires_at: datetime | None, provenance: Provenance, fingerprint: str | None = None,
    ) -> bool:
        """Record the person's consent directive once; False if this directive is already recorded."""
        if directive_id in self.consents:
            self.check_same_request(directive_id, fingerprint)
            return False
        self.check_not_merged()
        check_directive(recipient_kind, recipient_id, categories, starts_at, expires_at)
        self._consent_granted(directive_id, recipient_kind, recipient_id, sorted(set(categories)), starts_at,
                              expires_at, fingerprint)
        return True

    @command
    def revoke_consent(self, directive_id: str, revoked_at: datetime, provenance: Provenance) -> bool:
        """Revoke a directive from `revoked_at` on; False if it was already revoked."""
        directive = self.consents.get(directive_id)
        if directive is None:
            raise InvalidConsent("directive_id", "no such consent directive")
        if directive.revoked_at is not None:
            return False
        self.check_not_merged()
        if revoked_at.tzinfo is None:
            raise InvalidConsent("revoked_at", "needs a time zone")
        self._consent_revoked(directive_id, revoked_at)
        return True

    def consent_allows(self, recipient_kind: str, recipient_id: str | None, category: str, at: datetime) -> bool:
        return any(d.allows(recipient_kind, recipient_id, category, at) for d in self.consents.values())

    @event("ConsentGranted")
    def _consent_granted(
        self, directive_id: str, recipient_kind: str, recipient_id: str | None, categories: list[str],
        starts_at: datetime, expires_at: datetime | None, fingerprint: str | None = None,
    ) -> None:
        self.consents[directive_id] = ConsentDirective(directive_id, recipient_kind, recipient_id, tuple(categories),
                                                       starts_at, expires_at)
        self._remember_request(directive_id, fingerprint)

    @event("ConsentRevoked")
    def _consent_revoked(self, directive_id: str, revoked_at: datetime) -> None:
        self.consents[directive_id] = self.consents[directive_id].revoked(revoked_at)

    @staticmethod
    def check_has_answers(answers: dict[str, Answer]) -> None:
        if not answers:
            raise NoAnswers("a screening needs at least one item, answered or declined")

    @event("ScreeningCompleted")
    def _screening_completed(
        self,
        screening_id: UUID,
        instrument: str,
        answers: dict[str, Answer],
        sex: str | None,
        result: dict[str, Any],
        fingerprint: str | None = None,  # absent from events stored before fingerprints were kept
    ) -> None:
        self.screenings[screening_id] = ScreeningResult.from_stored(result)
        self._remember_request(screening_id, fingerprint)

    # Screenings recorded before ScreeningCompleted existed are two events; they still replay.

    @event("ScreeningRecorded")
    def _screening_recorded(
        self,
        screening_id: UUID,
        instrument: str,
        answers: dict[str, Answer],
        sex: str | None,
    ) -> None:
        self.screenings[screening_id] = None

    @event("ScreeningScored")
    def _screening_scored(self, screening_id: UUID, result: dict[str, Any]) -> None:
        self.screenings[screening_id] = ScreeningResult.from_stored(result)

    @event("UrgentScreeningResult")
    def _urgent_result(self, screening_id: UUID, instrument: str, flags: list[str]) -> None:
        pass  # nothing changes for intake; the event is for the care team
