"""The integration-event envelope: what services publish to each other, never domain events.

An envelope is versioned by its type name and `version`. Within a version only backward-compatible
changes are made (new optional fields); consumers ignore fields they do not know.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar
from uuid import UUID, uuid5

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EVENT_ID_NAMESPACE = UUID("6f1d8a4e-8f3c-4c1e-9a55-2b7f0c3d9e10")

PayloadT = TypeVar("PayloadT")


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    role: str


class IntegrationEvent(BaseModel, Generic[PayloadT]):
    """Envelope around one published fact about a person."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID = Field(description="Stable across redelivery and republishing: dedupe on it.")
    type: str = Field(description="Dotted name, e.g. carecoord.intake.screening_recorded")
    version: int = Field(ge=1)
    source: str = Field(description="The publishing service.")
    stream: str = Field(description="The person's stream within the source, e.g. intake.person.")
    position: int = Field(ge=1, description="Position in the source's event log.")
    person_id: UUID
    person_sequence: int = Field(
        ge=1, description="1, 2, 3... per person and stream: consumers apply them in this order."
    )
    occurred_at: AwareDatetime
    correlation_id: str
    causation_id: str | None = None
    actor: Actor
    payload: PayloadT

    @property
    def routing_key(self) -> str:
        return routing_key_for(self.type)


def routing_key_for(event_type: str) -> str:
    """`carecoord.intake.screening_recorded` is routed as `intake.screening_recorded`."""
    return event_type.removeprefix("carecoord.")


def stable_event_id(source: str, originator_id: UUID, originator_version: int) -> UUID:
    """The same stored event always gets the same id, however often it is published."""
    return uuid5(EVENT_ID_NAMESPACE, f"{source}/{originator_id}/{originator_version}")


AnyIntegrationEvent = IntegrationEvent[dict[str, Any]]
