"""Careplan's broker entry point: every intake event goes onto the person's timeline."""

from __future__ import annotations

from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitRouter

from services.careplan.application import CareplanApplication
from services.careplan.translation import timeline_entry
from shared.envelope import AnyIntegrationEvent
from shared.following import Unprocessable
from shared.messaging import parse_payload, upstream_ref
from shared.runtime import Service
from shared.topology import EVENTS_EXCHANGE, ConsumerTopology

TOPOLOGY = ConsumerTopology(service="careplan", bindings=("intake.#",))


def intake_events_router(service: Service, application: CareplanApplication, topology: ConsumerTopology) -> RabbitRouter:
    router = RabbitRouter()

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
        upstream = upstream_ref(event)
        try:
            payload = parse_payload(event)
        except Unprocessable as error:
            await service.run_sync(application.record_unprocessable, upstream, str(error))
            raise
        kind, summary = timeline_entry(payload)
        await service.run_sync(application.add_to_timeline, upstream, kind, summary, event.occurred_at)

    return router
