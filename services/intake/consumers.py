"""Intake's broker entry point: careplan's care-team events, which decide who sees a record."""

from __future__ import annotations

from datetime import datetime

from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitRouter

from shared.bootstrap import consumer_router

from services.intake.application import IntakeApplication
from shared.consuming import PersonEventConsumer, team_change
from shared.contracts.base import Payload
from shared.domain import UpstreamRef
from shared.envelope import AnyIntegrationEvent
from shared.following import Unprocessable, UpstreamChange
from shared.runtime import Service
from shared.topology import EVENTS_EXCHANGE, ConsumerTopology

TOPOLOGY = ConsumerTopology(service="intake", bindings=("careplan.care_team.#",))


def care_team_router(service: Service, application: IntakeApplication, topology: ConsumerTopology) -> RabbitRouter:
    def change_for(upstream: UpstreamRef, payload: Payload, occurred_at: datetime) -> UpstreamChange:
        change = team_change(upstream, payload)
        if change is None:
            raise Unprocessable(f"intake does not consume {payload.event_type}")
        return change

    consume = PersonEventConsumer(service.run_sync, application, change_for)
    router = consumer_router(service, topology)

    @router.subscriber(
        topology.inbox_queue(),
        EVENTS_EXCHANGE,
        channel=Channel(prefetch_count=service.settings.consumer_prefetch),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="intake.inbox",
        description="Careplan's care-team events: who is on each person's team.",
    )
    async def on_care_team_event(event: AnyIntegrationEvent) -> None:
        await consume(event)

    return router
