"""Builds notifications: the application, its inbox consumer and its HTTP API."""

from __future__ import annotations

from services.notifications.application import NotificationsApplication
from services.notifications.consumers import TOPOLOGY, intake_events_router
from services.notifications.http import notifications_router
from shared.bootstrap import build_http, build_service
from shared.runtime import Service
from shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"
    http_port: int = 8003


def create_service(settings: ServiceSettings | None = None) -> Service:
    settings = settings or NotificationsSettings()
    topology = TOPOLOGY.with_retry_delays(settings.retry_delays)
    service = build_service(settings, NotificationsApplication)
    application: NotificationsApplication = service.application  # type: ignore[assignment]
    service.broker.include_router(intake_events_router(service, application, topology))
    build_http(service, "notifications", [notifications_router(service, application)])
    return service
