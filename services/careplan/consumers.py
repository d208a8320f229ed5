"""Careplan's broker entry point: every intake event goes onto the person's timeline."""

from __future__ import annotations

from datetime import datetime

from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitRouter

from shared.bootstrap import consumer_router

from services.careplan.application import CareplanApplication
from services.careplan.translation import timeline_entry
from shared.consuming import PersonEventConsumer
from shared.contracts.base import Payload
from shared.domain import UpstreamRef
from shared.envelope import AnyIntegrationEvent
from shared.following import UpstreamChange
from shared.runtime import Service
from shared.topology import EVENTS_EXCHANGE, ConsumerTopology

TOPOLOGY = ConsumerTopology(service="careplan", bindings=("intake.#",))


def intake_events_router(service: Service, application: CareplanApplication, topology: ConsumerTopology) -> RabbitRouter:
    def change_for(upstream: UpstreamRef, payload: Payload, occurred_at: datetime) -> UpstreamChange:
        kind, summary = timeline_entry(payload)
        return application.timeline_entry(upstream, kind, summary, occurred_at)

    consume = PersonEventConsumer(service.run_sync, application, change_for)
    router = consumer_router(service, topology)

    @router.subscriber(
        topology.inbox_queue(),
        EVENTS_EXCHANGE,
        channel=Channel(prefetch_count=service.settings.consumer_prefetch),
        # Failures are routed by FailureRouting; if even that fails, requeue rather than drop.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="careplan.inbox",
        description="Every intake event about a person, applied to their timeline in order.",
    )
    async def on_intake_event(event: AnyIntegrationEvent) -> None:
        await consume(event)

    return router
