"""Careplan's broker entry point: every intake event goes onto the person's timeline (a merge also
onto the survivor's care team)."""

from __future__ import annotations

from datetime import datetime

from faststream.rabbit import RabbitRouter

from shared.bootstrap import follower_router

from services.careplan.application import CareplanApplication
from services.careplan.translation import timeline_change
from shared.consuming import ChangeFor, PersonEventConsumer
from shared.contracts.base import Payload
from shared.contracts.intake import PersonMergedV1, PersonMergeUndoneV1
from shared.domain import UpstreamRef
from shared.following import UpstreamChange
from shared.runtime import Foundation
from shared.topology import ConsumerTopology

TOPOLOGY = ConsumerTopology(service="careplan", bindings=("intake.#",))


def change_for(application: CareplanApplication) -> ChangeFor:
    """What each intake event does in careplan: a timeline entry; a merge also joins the
    duplicate's care team to the survivor's, in the same transaction, and its undoing takes off
    those who joined through it."""
    def change(upstream: UpstreamRef, payload: Payload, occurred_at: datetime) -> UpstreamChange:
        alongside = None
        if isinstance(payload, PersonMergedV1):
            alongside = application.team_merge(upstream, payload.duplicate_id)
        elif isinstance(payload, PersonMergeUndoneV1) and upstream.person_id == str(payload.survivor_id):
            alongside = application.team_unmerge(upstream, payload.duplicate_id)
        return UpstreamChange(upstream, timeline_change(upstream, payload, occurred_at), alongside)
    return change


def intake_events_router(foundation: Foundation, application: CareplanApplication, topology: ConsumerTopology) -> RabbitRouter:
    consume = PersonEventConsumer(foundation.run_sync, application, change_for(application),
                                  observe_batch=foundation.metrics.batch_observer("consumer"))
    return follower_router(foundation, topology, consume,
                           "Every intake event about a person, applied to their timeline in order.")
