"""Notifications' broker entry point: decide what the team is due to hear about each intake event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from faststream.rabbit import RabbitRouter

from shared.bootstrap import follower_router

from services.notifications.application import NotificationsApplication
from services.notifications.follow_up_changes import follow_up_change
from services.notifications.translation import notice_for
from shared.consuming import ChangeFor, PersonEventConsumer, team_change
from shared.contracts.base import Payload
from shared.contracts.intake import ConsentGrantedV1, ConsentRevokedV1, PersonMergedIntoV1, PersonMergedV1, PersonMergeUndoneV1
from shared.domain import UpstreamRef
from shared.following import UpstreamChange
from shared.runtime import Foundation
from shared.topology import ConsumerTopology

TOPOLOGY = ConsumerTopology(service="notifications", bindings=(
    "intake.#", "careplan.care_team.#", "careplan.medication.#", "careplan.crisis_follow_ups.#",
    "careplan.plan_changes.#"))


def change_for(application: NotificationsApplication) -> ChangeFor:
    """What each upstream event does to the person's notifications: a notice due (or nothing to
    notify), the team, consent, a merge, and its effect on a crisis follow-up."""
    def change_of(upstream: UpstreamRef, payload: Payload, occurred_at: datetime) -> UpstreamChange:
        if (change := team_change(upstream, payload)) is not None:
            return change
        match payload:
            case ConsentGrantedV1():
                return application.consent_noted(upstream, payload)
            case ConsentRevokedV1():
                return application.consent_revocation_noted(upstream, payload)
            case PersonMergedV1():
                return UpstreamChange(upstream, lambda person: person.note_duplicate_merged(
                    upstream, str(payload.duplicate_id)))
            case PersonMergedIntoV1():
                return UpstreamChange(upstream, lambda person: person.note_merged_into(
                    upstream, str(payload.survivor_id)))
            case PersonMergeUndoneV1():
                return UpstreamChange(upstream, lambda person: person.note_merge_undone(
                    upstream, str(payload.survivor_id), str(payload.duplicate_id)))
        notice = notice_for(payload)
        if notice is None:
            change = application.no_notice(upstream)
        else:
            change = application.team_notice(upstream, notice.kind, notice.message, occurred_at, notice.urgent,
                                             notice.audience, notice.category, notice.named)
        return with_follow_up(change, follow_up_change(payload))
    return change_of


def intake_events_router(
    foundation: Foundation, application: NotificationsApplication, topology: ConsumerTopology
) -> RabbitRouter:
    consume = PersonEventConsumer(foundation.run_sync, application, change_for(application),
                                  observe_batch=foundation.metrics.batch_observer("consumer"))
    return follower_router(foundation, topology, consume,
                           "Every intake event about a person (some make a notification due to the care team), "
                           "careplan's care-team events (who is on that team), and its medication "
                           "collaboration events (notes the prescriber must hear about), its crisis "
                           "follow-ups (which close a contact's escalating follow-up), and its plan "
                           "changes (kinds and ids: the coordinator and the members a change names hear of them).")


def with_follow_up(change: UpstreamChange, follow_up: Callable[[Any], None] | None) -> UpstreamChange:
    """The event's notice (which advances the person's sequence), then its effect on a follow-up."""
    if follow_up is None:
        return change

    def both(person: Any) -> None:
        change.change(person)
        follow_up(person)

    return UpstreamChange(change.upstream, both)
