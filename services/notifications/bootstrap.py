"""Builds notifications: the application, its inbox consumer and its HTTP API."""

from __future__ import annotations

from services.notifications.application import NotificationsApplication
from services.notifications.consumers import TOPOLOGY, intake_events_router
from services.notifications.http import router as notifications_router
from shared.bootstrap import build_foundation, build_http
from shared.runtime import Service
from shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"
    http_port: int = 8003


def create_service(settings: ServiceSettings | None = None) -> Service:
    """Notifications: its application, the consumer of intake's and careplan's events and the HTTP
    API (it publishes nothing yet, so it has no relay)."""
    settings = settings or NotificationsSettings()
    upstream_events = TOPOLOGY.with_retry_delays(settings.retry_delays)
    foundation = build_foundation(settings, NotificationsApplication)
    application = foundation.application
    foundation.broker.include_router(intake_events_router(foundation, application, upstream_events))
    http = build_http(foundation, "notifications", [notifications_router])
    return Service(foundation, http=http, topologies=[upstream_events])
