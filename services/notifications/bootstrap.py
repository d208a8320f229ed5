"""Builds notifications: the application, its inbox consumer and its HTTP API."""

from __future__ import annotations

import time
from collections.abc import Callable

from services.notifications.api.subscriptions import router as subscriptions_router
from services.notifications.application import NotificationsApplication
from services.notifications.consumers import TOPOLOGY, intake_events_router
from services.notifications.delivery.dispatch import WebhookDispatcher
from services.notifications.delivery.matching import SubscriptionMatcher
from services.notifications.delivery.settings import WebhookSettings
from services.notifications.http import router as notifications_router
from services.notifications.subscriptions_app import WebhookSubscriptions
from shared.bootstrap import build_foundation, build_http
from shared.log_reading import log_reader
from shared.runtime import Service
from shared.settings import ServiceSettings


class NotificationsSettings(WebhookSettings):
    service_name: str = "notifications"
    http_port: int = 8003


def create_service(settings: ServiceSettings | None = None, clock: Callable[[], float] = time.time) -> Service:
    """Notifications: its application, the consumer of intake's and careplan's events, the HTTP
    API, and webhook delivery (matching notices to subscriptions, sending them); `clock` decides
    retry times, overlap windows and the failing rule (tests move it by hand)."""
    settings = settings or NotificationsSettings()
    upstream_events = TOPOLOGY.with_retry_delays(settings.retry_delays)
    foundation = build_foundation(settings, NotificationsApplication)
    application: NotificationsApplication = foundation.application  # type: ignore[assignment]
    foundation.broker.include_router(intake_events_router(foundation, application, upstream_events))
    webhooks = WebhookSubscriptions(application, clock)
    webhook_settings = settings if isinstance(settings, WebhookSettings) else WebhookSettings(**settings.model_dump())
    # One reader (one connection) for both: max_connections is shared by every service.
    reader = log_reader(application, foundation.run_sync, settings.database_url)
    dispatcher = WebhookDispatcher(webhooks, webhook_settings, reader, foundation.run_sync, clock)
    matcher = SubscriptionMatcher(webhooks, reader, foundation.run_sync, dispatcher.nudge)
    http = build_http(foundation, "notifications", [notifications_router, subscriptions_router],
                      state={"webhooks": webhooks, "webhook_dispatch": dispatcher})
    return Service(foundation, http=http, topologies=[upstream_events], log_followers=[matcher, dispatcher])
