"""Notifications' broker entry point: decide what the team is due to hear about each intake event."""

from __future__ import annotations

from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitRouter

from services.notifications.application import NotificationsApplication
from services.notifications.translation import notice_for
from shared.envelope import AnyIntegrationEvent
from shared.following import Unprocessable
from shared.messaging import parse_payload, upstream_ref
from shared.runtime import Service
from shared.topology import EVENTS_EXCHANGE, ConsumerTopology

TOPOLOGY = ConsumerTopology(service="notifications", bindings=("intake.#",))


def intake_events_router(
    service: Service, application: NotificationsApplication, topology: ConsumerTopology
) -> RabbitRouter:
    router = RabbitRouter()

    @router.subscriber(
        topology.inbox_queue(),
        EVENTS_EXCHANGE,
        channel=Channel(prefetch_count=service.settings.consumer_prefetch),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="notifications.inbox",
        description="Every intake event about a person; some make a notification due to the care team.",
    )
    async def on_intake_event(event: AnyIntegrationEvent) -> None:
        upstream = upstream_ref(event)
        try:
            payload = parse_payload(event)
        except Unprocessable as error:
            await service.run_sync(application.record_unprocessable, upstream, str(error))
            raise
        notice = notice_for(payload)
        if notice is None:
            await service.run_sync(application.nothing_to_notify, upstream)
        else:
            await service.run_sync(application.notify_team, upstream, notice.kind, notice.message, event.occurred_at)

    return router
