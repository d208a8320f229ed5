"""The person's crisis follow-ups as a published stream (`careplan.crisis_follow_ups`).

The care plan keeps each follow-up with its note (`CarePlan.record_crisis_follow_up`), but the care
plan is not published: consumers apply a published stream by sequence, so every event of it must
be published, and the plan holds the person's words. This aggregate, one per person and saved in
the same transaction as the plan's follow-up, carries only the fact that a crisis contact was
followed up, and on which day: notifications closes the contact's escalating follow-up on it.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import event

from shared.domain import Provenance
from shared.person_aggregate import PersonAggregate, command

CRISIS_FOLLOW_UPS_NAMESPACE = UUID("6c1d0e57-3f2a-4b8e-9a41-0d7c5e2b8f13")


class CrisisFollowUps(PersonAggregate):
    if TYPE_CHECKING:  # The classes @event("...") defines as the class body runs, for mypy (fields unseen)
        FirstRecorded: ClassVar[type[Any]]
        Recorded: ClassVar[type[Any]]

    @staticmethod
    def create_id(person_id: UUID, **_: object) -> UUID:
        return uuid5(CRISIS_FOLLOW_UPS_NAMESPACE, str(person_id))

    # The stream starts with its first follow-up: no empty "opened" event to publish.
    @event("FirstRecorded")
    def __init__(self, person_id: UUID, contact_id: str, followed_up_on: date, provenance: Provenance) -> None:
        self.person_id = person_id
        self.followed_up: dict[str, date] = {contact_id: followed_up_on}

    @command
    def record(self, contact_id: str, followed_up_on: date, provenance: Provenance) -> bool:
        """False if this contact's follow-up is already recorded (the first one stands)."""
        if contact_id in self.followed_up:
            return False
        self._recorded(contact_id, followed_up_on)
        return True

    @event("Recorded")
    def _recorded(self, contact_id: str, followed_up_on: date) -> None:
        self.followed_up[contact_id] = followed_up_on
