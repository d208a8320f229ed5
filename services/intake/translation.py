"""Intake's domain events -> the integration events it publishes. Domain events never go on the wire."""

from __future__ import annotations

from typing import Any

from services.intake.domain.person import Person
from shared.contracts.base import Payload
from shared.contracts.intake import (
    ConsentGrantedV1,
    ConsentRevokedV1,
    AgencyIdentity,
    CrisisContactRecordedV1,
    PersonDetailsAmendedV1,
    PersonMergedIntoV1,
    PersonMergeUndoneV1,
    PersonMergedV1,
    PersonRegisteredV1,
    ScreeningCompletedV1,
    ScreeningRecordedV1,
    ScreeningScoredV1,
    UrgentScreeningResultV1,
)


def _registered(event: Any) -> Payload:
    return PersonRegisteredV1(
        agency=event.agency,
        agency_person_id=event.agency_person_id,
        preferred_name=event.preferred_name,
        date_of_birth=event.date_of_birth,
        pronouns=event.pronouns,
        preferred_language=event.preferred_language,
    )


def _screening_recorded(event: Any) -> Payload:
    return ScreeningRecordedV1(
        screening_id=event.screening_id,
        instrument=event.instrument,
        answers={item: "declined" if answer is None else answer for item, answer in event.answers.items()},
        sex=event.sex,
    )


def _screening_completed(event: Any) -> Payload:
    return ScreeningCompletedV1(
        screening_id=event.screening_id,
        answers={item: "declined" if answer is None else answer for item, answer in event.answers.items()},
        sex=event.sex,
        **event.result,  # instrument, domain, total, band, positive, flags, complete
    )


def _screening_scored(event: Any) -> Payload:
    return ScreeningScoredV1(screening_id=event.screening_id, **event.result)


def _urgent_result(event: Any) -> Payload:
    return UrgentScreeningResultV1(screening_id=event.screening_id, instrument=event.instrument, flags=event.flags)


# Every event on the person's stream must be published: consumers apply a person's events by
# sequence number, so an unpublished event would leave a gap they would wait on forever.
TRANSLATIONS = {
    Person.Registered: _registered,
    Person.DetailsAmended: lambda event: PersonDetailsAmendedV1(**event.changes, changed=sorted(event.changes)),
    Person.ScreeningCompleted: _screening_completed,
    # Screenings recorded before ScreeningCompleted existed: republished as they were.
    Person.ScreeningRecorded: _screening_recorded,
    Person.ScreeningScored: _screening_scored,
    Person.UrgentScreeningResult: _urgent_result,
    Person.CrisisContactRecorded: lambda event: CrisisContactRecordedV1(
        contact_id=event.contact_id, kind=event.kind, occurred_at=event.occurred_at, location=event.location,
        responders=event.responders, what_helped=event.what_helped, outcome=event.outcome,
        follow_up_due=event.follow_up_due,
    ),
    Person.ConsentGranted: lambda event: ConsentGrantedV1(
        directive_id=event.directive_id, recipient_kind=event.recipient_kind, recipient_id=event.recipient_id,
        categories=event.categories, starts_at=event.starts_at, expires_at=event.expires_at,
    ),
    Person.ConsentRevoked: lambda event: ConsentRevokedV1(directive_id=event.directive_id, revoked_at=event.revoked_at),
    # Ids and agency records only: the reason for a merge stays at intake.
    Person.DuplicateMerged: lambda event: PersonMergedV1(
        duplicate_id=event.duplicate_id, duplicate_agency=event.duplicate_agency,
        duplicate_agency_person_id=event.duplicate_agency_person_id,
        also_known_as=[AgencyIdentity(**identity) for identity in event.also_known_as],
    ),
    Person.MergedInto: lambda event: PersonMergedIntoV1(survivor_id=event.survivor_id),
    # Ids only, on both streams: the reason for the undo stays at intake too.
    Person.MergeUndone: lambda event: PersonMergeUndoneV1(
        merge_id=event.merge_id, survivor_id=event.originator_id, duplicate_id=event.duplicate_id),
    Person.Unmerged: lambda event: PersonMergeUndoneV1(
        merge_id=event.merge_id, survivor_id=event.survivor_id, duplicate_id=event.originator_id),
}
