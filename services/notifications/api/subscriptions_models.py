"""What notifications' subscription routes take and answer (api/subscriptions.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.notifications.domain.delivery import Delivery
from services.notifications.domain.subscriptions import Subscription
from shared.contracts.fields import BoundedDateTime, Identifier

Hour = Annotated[int, Field(ge=0, le=23)]


class QuietHoursModel(BaseModel):
    """Hours (UTC) when routine items wait; urgent ones always go."""

    model_config = ConfigDict(extra="forbid")
    start_hour: Hour
    end_hour: Hour


class AppRegistration(BaseModel):
    """A care-team app the subscription is registered for (by a supervisor), and the team
    members it acts for: it is sent what at least one of them may be sent."""

    model_config = ConfigDict(extra="forbid")
    app: Identifier
    members: list[Identifier] = Field(min_length=1, max_length=100)


class SubscriptionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2000, description="https (plain http to loopback only in development)")
    kinds: list[Identifier] = Field(default=[], max_length=50, description="Kinds of notice wanted (none: all)")
    person_ids: list[UUID] = Field(default=[], max_length=1000, description="Only these people (none: all)")
    team_member: Identifier | None = Field(None, description="Only people whose care team includes this member")
    min_urgency: Literal["routine", "urgent"] = "routine"
    content: Literal["id-only", "summary"] = "id-only"
    quiet_hours: QuietHoursModel | None = None


class SubscriptionRequest(SubscriptionSettings):
    for_app: AppRegistration | None = Field(None, description="Register it for a care-team app (supervisors)")


class SubscriptionChange(BaseModel):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, min_length=8, max_length=2000)
    kinds: list[Identifier] | None = Field(None, max_length=50)
    person_ids: list[UUID] | None = Field(None, max_length=1000)
    team_member: Identifier | None = None
    min_urgency: Literal["routine", "urgent"] | None = None
    content: Literal["id-only", "summary"] | None = None
    quiet_hours: QuietHoursModel | None = None
    status: Literal["active", "disabled"] | None = None


class OwnerView(BaseModel):
    subject: str
    role: str
    agency: str | None
    app: str | None
    members: list[str]


class SubscriptionView(BaseModel):
    subscription_id: UUID
    owner: OwnerView
    url: str
    kinds: list[str]
    person_ids: list[str]
    team_member: str | None
    min_urgency: str
    content: str
    quiet_hours: QuietHoursModel | None
    status: str
    disabled_reason: str | None
    failing_since: datetime | None
    events_since_start: int
    created_at: datetime

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionView:
        return cls(subscription_id=s.id, owner=OwnerView(**s.owner.as_dict()), url=s.url,  # type: ignore[arg-type]
                   kinds=list(s.filters.kinds), person_ids=list(s.filters.person_ids),
                   team_member=s.filters.team_member, min_urgency=s.filters.min_urgency, content=s.content,
                   quiet_hours=None if s.quiet_hours is None else QuietHoursModel(**s.quiet_hours.as_dict()),
                   status=s.status, disabled_reason=s.disabled_reason, failing_since=s.failing_since,
                   events_since_start=s.events_since_start, created_at=s.created_at)


class CreatedSubscriptionView(SubscriptionView):
    secret: str = Field(description="Shown once: verify each delivery's webhook-signature with it")


class SubscriptionsView(BaseModel):
    subscriptions: list[SubscriptionView]


class SecretRotationView(BaseModel):
    secret: str = Field(description="The new secret, shown once; it signs from now on")
    previous_valid_until: datetime = Field(description="Until then the previous secret signs too")


class AttemptView(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    latency_ms: int


class DeliveryView(BaseModel):
    sequence: int
    event_id: str
    person_id: str
    kind: str
    urgency: str
    status: str
    attempts: int
    queued_at: datetime
    due_at: datetime
    last_result: str | None
    history: list[AttemptView] = Field(description="Every attempt: when, status or error, latency (never the body)")

    @classmethod
    def of(cls, d: Delivery) -> DeliveryView:
        return cls(sequence=d.sequence, event_id=d.notification_id, person_id=d.person_id, kind=d.kind,
                   urgency="urgent" if d.urgent else "routine", status=d.status, attempts=d.attempts,
                   queued_at=d.queued_at, due_at=d.due_at, last_result=d.last_result,
                   history=[AttemptView(at=a.at, status_code=a.status_code, error=a.error, latency_ms=a.latency_ms)
                            for a in d.history])


class DeliveriesView(BaseModel):
    subscription_id: UUID
    deliveries: list[DeliveryView]


class ReplayRequest(BaseModel):
    """One delivery by its number, or every parked delivery queued since a time."""

    model_config = ConfigDict(extra="forbid")
    sequence: int | None = Field(None, ge=1, le=2**62)
    since: BoundedDateTime | None = None


class ReplayView(BaseModel):
    requeued: list[int]


class MissedEventView(BaseModel):
    """One of the subscription's numbered events; withheld (only its number and why) when its
    owner may not be sent it now."""

    sequence: int
    event_id: str | None = None
    kind: str | None = None
    urgency: str | None = None
    person_id: str | None = None
    occurred_at: datetime | None = None
    withheld: str | None = Field(None, description="Why this recipient may not be told of it now")


class MissedEventsView(BaseModel):
    subscription_id: UUID
    events_since_start: int
    events: list[MissedEventView]
