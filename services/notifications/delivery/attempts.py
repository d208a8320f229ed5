"""Recording delivery attempts, many lanes' in one transaction (a group commit).

Each attempt is still its own `Attempted` event on its lane (when, status or error, latency, never
the body), with what it says of the subscription (failing, recovered, disabled by a 410) and, for
a recipient outside the treating team, the disclosure in the person's accounting. What changes is
how many commits that takes: at 100 notices/s one commit per delivery was ~15% of notifications'
CPU, and the attempts that finish while one batch is in the database now make the next one.

Each lane appears at most once in a batch (a lane has one request in flight), but a subscription
and a person's disclosure ledger may be touched by several attempts of one batch: they are changed
in turn on the one checked-out copy. The recorded lane is returned as saved, so the dispatcher
takes the lane's next item from it instead of reading the lane again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from services.notifications.delivery_lanes import LaneHead, lane_head
from services.notifications.domain.delivery import AttemptOutcome, Delivery, DeliveryLane, webhook_id
from services.notifications.domain.disclosure import notice_disclosure, outside_recipient
from services.notifications.domain.subscriptions import SUMMARY, Subscription
from shared.disclosures import Disclosure, DisclosureLedger, disclosure_id
from shared.domain import Provenance
from shared.group_commit import outcomes_until_a_failure

if TYPE_CHECKING:
    from services.notifications.subscriptions_app import WebhookSubscriptions

SAVE_ATTEMPTS = 8


@dataclass(frozen=True)
class AttemptMade:
    """One attempt to record: which lane's item, when, and what came of it."""

    lane_id: UUID
    subscription_id: UUID
    sequence: int
    at: datetime
    outcome: AttemptOutcome
    delays: tuple[float, ...]
    retry_after: float | None = None
    gone: bool = False  # the receiver answered 410: the subscription is disabled


@dataclass(frozen=True)
class AttemptRecorded:
    """The item as the attempt left it, and the lane as saved with it (its next item)."""

    item: Delivery
    lane: LaneHead


def record_attempts(webhooks: WebhookSubscriptions, attempts: Sequence[AttemptMade],
                    jitters: Sequence[float]) -> list[AttemptRecorded | Exception]:
    """Record these attempts in one transaction; an attempt that cannot be recorded (its lane or
    item is unknown) gets its exception and the others are recorded without it."""
    settings = {a.subscription_id: webhooks.settings_of(a.subscription_id) for a in attempts}
    # Nothing to note on the subscription (a success while not failing): it is left out, so that
    # a delivery never takes it out of the matcher's hands.
    noted = [not a.outcome.delivered or _failing(settings[a.subscription_id]) for a in attempts]
    outside = [_outside_consents(webhooks, a, settings[a.subscription_id]) if a.outcome.delivered else None
               for a in attempts]
    lanes = [a.lane_id for a in attempts]
    subscriptions = list(dict.fromkeys(a.subscription_id for a, note in zip(attempts, noted, strict=True) if note))
    ledgers = list(dict.fromkeys(DisclosureLedger.create_id(person) for person, _ in filter(None, outside)))
    ids = [*lanes, *subscriptions, *ledgers]
    failed: dict[int, Exception] = {}
    conflicts = 0
    with webhooks.holding(ids):
        while conflicts < SAVE_ATTEMPTS:
            found = webhooks.application.check_out_many(ids)

            def apply(indexed: tuple[int, AttemptMade]) -> AttemptMade:
                index, attempt = indexed
                _apply(found, attempt, jitters[index], noted[index], settings[attempt.subscription_id],
                       outside[index])
                return attempt
            outcomes = outcomes_until_a_failure(list(enumerate(attempts)), apply, failed, lambda _, error: error)
            if outcomes is None:  # an attempt failed half-way: redo the batch from the store without it
                continue
            try:
                webhooks.application.record(*found.values())
            except IntegrityError:  # another replica saved one of them meanwhile
                webhooks.application.forget(ids)
                conflicts += 1
                continue
            webhooks.saved(ids)
            return [outcome if isinstance(outcome, Exception)
                    else AttemptRecorded(found[outcome.lane_id].items[outcome.sequence], lane_head(found[outcome.lane_id]))
                    for outcome in outcomes]
    raise RuntimeError("could not record webhook attempts: kept conflicting with other writers")


def _apply(found: dict[UUID, Any], attempt: AttemptMade, jitter: float, noted: bool,
           subscription: Subscription | None, outside: tuple[UUID, list[Any]] | None) -> None:
    lane = found.get(attempt.lane_id)
    if not isinstance(lane, DeliveryLane):
        raise AggregateNotFoundError(attempt.lane_id)
    item = lane.items[attempt.sequence]
    disclosure = (_disclosure(subscription, lane, item, outside[1], attempt.at)
                  if outside is not None and subscription is not None else None)
    lane.record_attempt(attempt.sequence, attempt.at, attempt.outcome, attempt.delays, jitter, attempt.retry_after)
    if noted:
        stored: Subscription = found[attempt.subscription_id]
        if attempt.outcome.delivered:
            stored.note_success(attempt.at)
        elif attempt.gone:
            if stored.active:
                stored.disable(reason="the receiver answered 410 Gone", at=attempt.at)
        else:
            stored.note_failure(attempt.at)
    if disclosure is not None:
        recorded, provenance = disclosure
        ledger_id = DisclosureLedger.create_id(recorded.person_id)
        if ledger_id not in found:
            found[ledger_id] = DisclosureLedger(recorded.person_id, provenance)
        found[ledger_id].record(recorded, provenance)


def _failing(subscription: Subscription | None) -> bool:
    return subscription is not None and subscription.failing_since is not None


def _outside_consents(webhooks: WebhookSubscriptions, attempt: AttemptMade,
                      subscription: Subscription | None) -> tuple[UUID, list[Any]] | None:
    """For a delivery outside the treating team (a support person's or an outside agency's
    subscription): the person it is about and their consent directives (read before the write
    locks are taken). None for everyone else: no disclosure, nothing read."""
    if subscription is None or _recipient(subscription) is None:
        return None
    lane = webhooks.lane_head(attempt.lane_id)
    if lane is None:
        return None
    person_id = UUID(lane.person_id)
    application = webhooks.application
    try:
        consents = application.read_current(application.follower_class.create_id(person_id=person_id),
                                            lambda person: list(person.consents.values()))
    except AggregateNotFoundError:
        consents = []
    return person_id, consents


def _recipient(subscription: Subscription) -> tuple[str, str | None] | None:
    owner = subscription.owner
    return outside_recipient(owner.role, owner.subject, owner.agency) if owner.app is None else None


def _disclosure(subscription: Subscription, lane: DeliveryLane, item: Delivery, consents: list[Any],
                at: datetime) -> tuple[Disclosure, Provenance] | None:
    """What a successful delivery discloses, with whom to attribute it to (the item as it was
    before this attempt: the disclosure is numbered by the attempt)."""
    recipient = _recipient(subscription)
    if recipient is None:
        return None
    owner = subscription.owner
    message_id = webhook_id(subscription.id, item.sequence)
    disclosure = notice_disclosure(
        "webhook", disclosure_id(message_id, len(item.history) + 1), UUID(lane.person_id), recipient, owner.agency,
        urlsplit(subscription.url).hostname, item.kind, item.category, subscription.content == SUMMARY,
        consents, at)
    # The dispatcher sends for the subscription's owner: the disclosure is attributed to it.
    return disclosure, Provenance(actor_id=f"subscription:{subscription.id}", actor_role="webhook_dispatcher",
                                  correlation_id=message_id)
