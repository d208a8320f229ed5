"""Builds notifications: the application, its inbox consumer and its HTTP API."""

from __future__ import annotations

from services.notifications.application import NotificationsApplication
from services.notifications.consumers import TOPOLOGY, intake_events_router
from services.notifications.http import router as notifications_router
from services.notifications.stream import NoticeStreams
from services.notifications.stream_http import router as stream_router
from shared.bootstrap import build_foundation, build_http
from shared.log_reading import log_reader
from shared.runtime import Foundation, Service
from shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"
    http_port: int = 8003
    # The live stream (GET /stream): a heartbeat comment this often; a poll of the log this often
    # if LISTEN/NOTIFY is silent; notices read per query.
    stream_heartbeat_seconds: float = 15.0
    stream_poll_seconds: float = 2.0
    stream_page_size: int = 200


def create_service(settings: ServiceSettings | None = None) -> Service:
    """Notifications: its application, the consumer of intake's and careplan's events and the HTTP
    API (it publishes nothing yet, so it has no relay)."""
    settings = settings or NotificationsSettings()
    upstream_events = TOPOLOGY.with_retry_delays(settings.retry_delays)
    foundation = build_foundation(settings, NotificationsApplication)
    application: NotificationsApplication = foundation.application  # type: ignore[assignment]
    foundation.broker.include_router(intake_events_router(foundation, application, upstream_events))
    streams = stream_parts(foundation, application, settings)
    http = build_http(foundation, "notifications", [notifications_router, stream_router],
                      state={"notice_streams": streams})
    return Service(foundation, http=http, topologies=[upstream_events], log_followers=[streams])


def stream_parts(foundation: Foundation, application: NotificationsApplication,
                 settings: ServiceSettings) -> NoticeStreams:
    """The live streams: one log reader shared by every connection, woken by the service's listener."""
    stream_settings = settings if isinstance(settings, NotificationsSettings) else NotificationsSettings.model_construct()
    return NoticeStreams(application, foundation.run_sync,
                         log_reader(application, foundation.run_sync, settings.database_url),
                         page_size=stream_settings.stream_page_size, poll_seconds=stream_settings.stream_poll_seconds,
                         heartbeat_seconds=stream_settings.stream_heartbeat_seconds)
