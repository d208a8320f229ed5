"""Careplan's broker entry point: every intake event goes onto the person's timeline."""

from __future__ import annotations

from datetime import datetime

from faststream.rabbit import RabbitRouter

from shared.bootstrap import follower_router

from services.careplan.application import CareplanApplication
from services.careplan.translation import timeline_change
from shared.consuming import PersonEventConsumer
from shared.contracts.base import Payload
from shared.domain import UpstreamRef
from shared.following import UpstreamChange
from shared.runtime import Foundation
from shared.topology import ConsumerTopology

TOPOLOGY = ConsumerTopology(service="careplan", bindings=("intake.#",))


def intake_events_router(foundation: Foundation, application: CareplanApplication, topology: ConsumerTopology) -> RabbitRouter:
    def change_for(upstream: UpstreamRef, payload: Payload, occurred_at: datetime) -> UpstreamChange:
        return UpstreamChange(upstream, timeline_change(upstream, payload, occurred_at))

    consume = PersonEventConsumer(foundation.run_sync, application, change_for,
                                  observe_batch=foundation.metrics.batch_observer("consumer"))
    return follower_router(foundation, topology, consume,
                           "Every intake event about a person, applied to their timeline in order.")
