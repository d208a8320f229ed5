"""Webhook subscriptions over HTTP: made, read, changed, deleted, their secret rotated, their
deliveries listed and replayed, and the events an app missed read back by number.

A subscription is managed by its owner (for a care-team app: a token of that app) and by
supervisors (operators); to anyone else it does not exist (404).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Response, status

from services.notifications.api.subscriptions_models import (
    CreatedSubscriptionView, DeliveriesView, DeliveryView, MissedEventsView, MissedEventView, ReplayRequest,
    ReplayView, SecretRotationView, SubscriptionChange, SubscriptionRequest, SubscriptionsView, SubscriptionView)
from services.notifications.delivery.addresses import AddressPolicy, AddressRefused
from services.notifications.deps import ServiceFoundation, WebhookDispatch, Webhooks
from services.notifications.domain.delivery import STATUSES
from services.notifications.domain.subscriptions import Filters, Owner, QuietHours, Subscription
from services.notifications.subscriptions_app import NoSuchSubscription, WebhookSubscriptions, may_manage
from shared.access import STAFF, MissingRight, Principal, Right, Role, check_has_right
from shared.domain import InvalidField
from shared.http import CurrentPrincipal, invalid_field
from shared.http_errors import ErrorBody
from shared.recorded_reads import RecordedRead
from shared.runtime import Foundation

router = APIRouter(prefix="/subscriptions", tags=["webhook subscriptions"])

# Who may own a subscription of their own: those who can be sent notices (domain/disclosure.py).
OWNERS = frozenset({*STAFF, Role.SUPPORT_PERSON, Role.OUTSIDE_AGENCY})


def _check_right(principal: Principal) -> None:
    try:
        check_has_right(principal, Right.MANAGE_SUBSCRIPTIONS)
    except MissingRight as refusal:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(refusal)) from None


def _check_url(foundation: Foundation, url: str) -> None:
    settings = foundation.settings
    policy = AddressPolicy(getattr(settings, "webhook_allow_loopback_http", False),
                           getattr(settings, "webhook_allow_private_networks", False))
    try:
        policy.check_url(url)
    except AddressRefused as refused:
        raise invalid_field("url", str(refused)) from None


async def _managed(foundation: Foundation, webhooks: WebhookSubscriptions, principal: Principal,
                   subscription_id: UUID) -> Subscription:
    _check_right(principal)
    found = await foundation.run_sync(webhooks.subscription_or_none, subscription_id)
    if found is None or not may_manage(principal, found.owner):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    return found


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CreatedSubscriptionView)
async def subscribe(request: SubscriptionRequest, principal: CurrentPrincipal, foundation: ServiceFoundation,
                    webhooks: Webhooks):
    _check_right(principal)
    if request.for_app is not None:
        if principal.role is not Role.SUPERVISOR:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only a supervisor registers a care team app")
        owner = Owner(subject=principal.subject, role=principal.role.value, agency=principal.agency,
                      app=request.for_app.app, members=tuple(request.for_app.members))
    elif principal.role in OWNERS:
        owner = Owner(subject=principal.subject, role=principal.role.value, agency=principal.agency)
    else:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a care team app's subscriptions are registered by a supervisor")
    _check_url(foundation, request.url)
    filters = Filters(tuple(request.kinds), tuple(str(p) for p in request.person_ids), request.team_member,
                      request.min_urgency)
    quiet = None if request.quiet_hours is None else QuietHours(**request.quiet_hours.model_dump())
    try:
        made = await foundation.run_sync(webhooks.subscribe, owner, request.url, filters, request.content, quiet)
    except InvalidField as refused:
        raise invalid_field(refused.field, refused.message) from None
    return CreatedSubscriptionView(**SubscriptionView.of(made).model_dump(), secret=made.secrets[0].secret)


@router.get("", response_model=SubscriptionsView,
            responses={403: {"model": ErrorBody, "description": "The caller's role lacks the right this needs"}})
async def list_subscriptions(principal: CurrentPrincipal, foundation: ServiceFoundation, webhooks: Webhooks):
    """The caller's own subscriptions (for an app: the app's)."""
    _check_right(principal)
    found = await foundation.run_sync(webhooks.subscriptions_of, principal)
    return SubscriptionsView(subscriptions=[SubscriptionView.of(s) for s in found])


@router.get("/{subscription_id}", response_model=SubscriptionView)
async def get_subscription(subscription_id: UUID, principal: CurrentPrincipal, foundation: ServiceFoundation,
                           webhooks: Webhooks):
    return SubscriptionView.of(await _managed(foundation, webhooks, principal, subscription_id))


@router.patch("/{subscription_id}", response_model=SubscriptionView)
async def change_subscription(subscription_id: UUID, change: SubscriptionChange, principal: CurrentPrincipal,
                              foundation: ServiceFoundation, webhooks: Webhooks, dispatch: WebhookDispatch):
    await _managed(foundation, webhooks, principal, subscription_id)
    given = change.model_fields_set
    if change.url is not None:
        _check_url(foundation, change.url)

    def apply(s: Subscription) -> None:
        settings: dict[str, Any] = {"url": s.url, "content": s.content, "quiet_hours": s.quiet_hours,
                                    **s.filters.as_dict()}
        for field in given - {"status"}:
            value = getattr(change, field)
            if field in ("kinds", "person_ids"):
                value = [str(v) for v in value or []]
            if field == "quiet_hours" and value is not None:
                value = QuietHours(**value.model_dump())
            if value is not None or field in ("team_member", "quiet_hours"):
                settings[field] = value
        filters = Filters.from_dict(settings)
        if given - {"status"}:
            s.change(settings["url"], filters, settings["content"], settings["quiet_hours"])
        if change.status == "disabled" and s.active:
            s.disable(reason=f"disabled by {principal.subject}", at=webhooks.now())
        elif change.status == "active" and not s.active:
            s.enable()
    try:
        changed, _ = await foundation.run_sync(webhooks.change_subscription, subscription_id, apply)
    except InvalidField as refused:
        raise invalid_field(refused.field, refused.message) from None
    except NoSuchSubscription:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found") from None
    if changed.active:  # enabled again: what waited in its lanes goes now
        dispatch.nudge(await foundation.run_sync(lambda: [lane.id for lane in webhooks.lanes_of(changed)]))
    return SubscriptionView.of(changed)


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_subscription(subscription_id: UUID, principal: CurrentPrincipal, foundation: ServiceFoundation,
                              webhooks: Webhooks):
    await _managed(foundation, webhooks, principal, subscription_id)
    await foundation.run_sync(webhooks.change_subscription, subscription_id,
                              lambda s: s.delete(at=webhooks.now()))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{subscription_id}/secret-rotation", status_code=status.HTTP_201_CREATED,
             response_model=SecretRotationView)
async def rotate_secret(subscription_id: UUID, principal: CurrentPrincipal, foundation: ServiceFoundation,
                        webhooks: Webhooks):
    """A new secret signs from now on; the previous one also signs until the overlap ends."""
    await _managed(foundation, webhooks, principal, subscription_id)
    secret, until = await foundation.run_sync(webhooks.rotate_secret, subscription_id)
    return SecretRotationView(secret=secret, previous_valid_until=until)


@router.get("/{subscription_id}/deliveries", response_model=DeliveriesView)
async def list_deliveries(subscription_id: UUID, principal: CurrentPrincipal, foundation: ServiceFoundation,
                          webhooks: Webhooks, read: RecordedRead,
                          delivery_status: Annotated[str | None, Query(alias="status", pattern="^(" + "|".join(STATUSES) + ")$")] = None):
    """The subscription's deliveries. Each names a person and a notice kind, so the page is a read
    of those people's records: recorded (one record per person, naming the deliveries) first."""
    await _managed(foundation, webhooks, principal, subscription_id)
    found = await foundation.run_sync(webhooks.deliveries, subscription_id, delivery_status)
    await read.of_page("webhook deliveries", [(UUID(d.person_id), f"{d.sequence}:{d.kind}") for d in found])
    return DeliveriesView(subscription_id=subscription_id, deliveries=[DeliveryView.of(d) for d in found])


@router.post("/{subscription_id}/replay", response_model=ReplayView)
async def replay(subscription_id: UUID, request: ReplayRequest, principal: CurrentPrincipal,
                 foundation: ServiceFoundation, webhooks: Webhooks, dispatch: WebhookDispatch):
    """Send again one delivery (by number), or every parked one queued since a time; each is
    checked against the owner's access when it goes, as at first."""
    await _managed(foundation, webhooks, principal, subscription_id)
    if request.sequence is None and request.since is None:
        raise invalid_field("sequence", "give a delivery's sequence, or since (a time) for all parked ones")
    requeued, lanes = await foundation.run_sync(webhooks.replay, subscription_id, request.sequence, request.since)
    dispatch.nudge(lanes)
    return ReplayView(requeued=requeued)


@router.get("/{subscription_id}/events", response_model=MissedEventsView)
async def missed_events(subscription_id: UUID, principal: CurrentPrincipal, foundation: ServiceFoundation,
                        webhooks: Webhooks, read: RecordedRead, after: Annotated[int, Query(ge=0, le=2**62)] = 0,
                        limit: Annotated[int, Query(ge=1, le=500)] = 100):
    """The subscription's numbered events after `after`: an app that sees a gap in the sequence
    numbers (or was down) reads what it missed. Each is checked against the owner's access now;
    what is shown of people is recorded as their records' reads first (one record per person)."""
    found = await _managed(foundation, webhooks, principal, subscription_id)

    def events() -> list[MissedEventView]:
        now = webhooks.now()
        views = []
        for m in webhooks.matched_events(subscription_id, after, limit):
            withheld = webhooks.refusal(found.owner, m.person_id, m.notification_id, m.category, now)
            views.append(MissedEventView(sequence=m.sequence, withheld=withheld) if withheld else MissedEventView(
                sequence=m.sequence, event_id=m.notification_id, kind=m.kind,
                urgency="urgent" if m.urgent else "routine", person_id=m.person_id, occurred_at=m.occurred_at))
        return views
    shown = await foundation.run_sync(events)
    await read.of_page("missed webhook events", [(UUID(view.person_id), f"{view.sequence}:{view.kind}")
                                                 for view in shown if view.person_id is not None])
    return MissedEventsView(subscription_id=subscription_id, events_since_start=found.events_since_start,
                            events=shown)
