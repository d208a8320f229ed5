"""A person served, as intake knows them: who registered them, and the screenings they completed.

Every event of a person's intake history is on this one aggregate, so its version numbers are the
per-person sequence that consumers use to apply a person's events in order.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.intake.domain import crisis
from services.intake.domain.scoring import Answer, ScoringSettings, ScreeningResult, score
from shared.domain import Provenance

PERSON_NAMESPACE = UUID("0d6c3c7e-3f0e-4d84-8a6c-6d0f1a2b9c01")


class NoAnswers(ValueError):
    """A screening with no items at all is not a screening."""


class Person(Aggregate):
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
    ) -> None:
        self.agency = agency
        self.agency_person_id = agency_person_id
        self.preferred_name = preferred_name
        self.date_of_birth = date_of_birth
        self.screenings: dict[UUID, ScreeningResult | None] = {}
        self.crisis_contacts: dict[UUID, datetime] = {}  # contact id -> follow-up due

    def record_screening(
        self,
        screening_id: UUID,
        instrument: str,
        answers: dict[str, Answer],
        provenance: Provenance,
        sex: str | None = None,
        settings: ScoringSettings = ScoringSettings(),
    ) -> ScreeningResult:
        """Record the answers as given, then their score by the published rules; a result that
        shows suicide risk is also recorded as urgent, for the care team to act on at once."""
        self.check_has_answers(answers)
        result = score(instrument, answers, sex=sex, settings=settings)  # InvalidAnswers names the item
        self._screening_recorded(screening_id, instrument, dict(answers), sex, provenance)
        self._screening_scored(screening_id, _result_fields(result), provenance)
        if result.urgent:
            self._urgent_result(screening_id, instrument, list(result.flags), provenance)
        return result

    def has_screening(self, screening_id: UUID) -> bool:
        return screening_id in self.screenings

    def screening_result(self, screening_id: UUID) -> ScreeningResult | None:
        return self.screenings.get(screening_id)

    def record_crisis_contact(
        self, contact_id: UUID, kind: str, occurred_at: datetime, location: str, responders: list[str],
        what_helped: str, outcome: str, follow_up_due: datetime | None, provenance: Provenance,
    ) -> datetime:
        """Record a crisis contact once; returns when the team's follow-up is due."""
        crisis.check_kind(kind)
        crisis.check_outcome(outcome)
        crisis.check_aware(occurred_at, "occurred_at")
        due = crisis.follow_up_due(kind, occurred_at, follow_up_due)
        self._crisis_contact_recorded(contact_id, kind, occurred_at, location, list(responders), what_helped,
                                      outcome, due, provenance)
        return due

    @event("CrisisContactRecorded")
    def _crisis_contact_recorded(
        self, contact_id: UUID, kind: str, occurred_at: datetime, location: str, responders: list[str],
        what_helped: str, outcome: str, follow_up_due: datetime, provenance: Provenance,
    ) -> None:
        self.crisis_contacts[contact_id] = follow_up_due

    @staticmethod
    def check_has_answers(answers: dict[str, Answer]) -> None:
        if not answers:
            raise NoAnswers("a screening needs at least one item, answered or declined")

    @event("ScreeningRecorded")
    def _screening_recorded(
        self,
        screening_id: UUID,
        instrument: str,
        answers: dict[str, Answer],
        sex: str | None,
        provenance: Provenance,
    ) -> None:
        self.screenings[screening_id] = None

    @event("ScreeningScored")
    def _screening_scored(self, screening_id: UUID, result: dict[str, Any], provenance: Provenance) -> None:
        self.screenings[screening_id] = ScreeningResult(**{**result, "flags": tuple(result["flags"])})

    @event("UrgentScreeningResult")
    def _urgent_result(self, screening_id: UUID, instrument: str, flags: list[str], provenance: Provenance) -> None:
        pass  # nothing changes for intake; the event is for the care team


def _result_fields(result: ScreeningResult) -> dict[str, Any]:
    # Stored as plain data: the event must read back the same even if the result class changes.
    return {
        "instrument": result.instrument, "domain": result.domain, "total": result.total, "band": result.band,
        "positive": result.positive, "flags": list(result.flags), "complete": result.complete,
    }
