"""Builds notifications: the application, its inbox consumer, the crisis follow-up timer and its
HTTP API."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from services.notifications.api.crisis_follow_ups import router as crisis_follow_ups_router
from services.notifications.api.subscriptions import router as subscriptions_router
from services.notifications.application import NotificationsApplication
from services.notifications.consumers import TOPOLOGY, intake_events_router
from services.notifications.delivery.dispatch import WebhookDispatcher
from services.notifications.delivery.matching import SubscriptionMatcher
from services.notifications.delivery.settings import WebhookSettings
from services.notifications.delivery.metrics import WebhookMetrics
from services.notifications.domain.follow_ups import EscalationPolicy
from services.notifications.escalation import FollowUpSchedule, FollowUpTimer
from services.notifications.http import router as notifications_router
from services.notifications.stream import NoticeStreams
from services.notifications.stream_http import router as stream_router
from shared.disclosure_api import disclosures_router
from services.notifications.subscriptions_app import WebhookSubscriptions
from shared.bootstrap import build_foundation, build_http
from shared.log_reading import log_reader
from shared.runtime import Foundation, Service
from shared.settings import ServiceSettings


class NotificationsSettings(WebhookSettings):
    service_name: str = "notifications"
    http_port: int = 8003
    # The live stream (GET /stream): a heartbeat comment this often; a poll of the log this often
    # if LISTEN/NOTIFY is silent; notices read per query.
    stream_heartbeat_seconds: float = 15.0
    stream_poll_seconds: float = 2.0
    stream_page_size: int = 200
    # A crisis follow-up not recorded this long after it was due escalates to the care coordinator
    # (CRISIS_FOLLOW_UP_OVERDUE_AFTER=PT2H), and this long after that to the supervisors.
    crisis_follow_up_overdue_after: timedelta = timedelta(hours=2)
    crisis_follow_up_supervisors_after: timedelta = timedelta(hours=4)
    # Supervisors of the agency (token subjects) who hear of escalations to supervisors, on the
    # person's team or not (AGENCY_SUPERVISORS='["sam"]'); team members in the supervisor role do too.
    agency_supervisors: tuple[str, ...] = ()
    # How often the timer looks for due follow-ups when nothing is recorded (seconds).
    follow_up_timer_poll_seconds: float = 5.0


def own_settings(settings: ServiceSettings | None) -> NotificationsSettings:
    """Notifications' settings: those given, with notifications' own defaults for what plain
    ServiceSettings lack (as tests and `carecoord run` may give)."""
    if settings is None:
        return NotificationsSettings()
    if isinstance(settings, NotificationsSettings):
        return settings
    return NotificationsSettings.model_construct(**dict(settings))


def create_service(settings: ServiceSettings | None = None, clock: Callable[[], float] = time.time) -> Service:
    """Notifications: its application, the consumer of intake's and careplan's events, the crisis
    follow-up timer (reading `clock`), the HTTP API with its live stream, and webhook delivery
    (matching notices to subscriptions, sending them; `clock` decides retry times, overlap windows
    and the failing rule). It publishes nothing yet, so it has no relay."""
    settings = own_settings(settings)
    upstream_events = TOPOLOGY.with_retry_delays(settings.retry_delays)
    policy = EscalationPolicy(
        overdue_after=settings.crisis_follow_up_overdue_after,
        supervisors_after=settings.crisis_follow_up_supervisors_after)
    foundation = build_foundation(settings, NotificationsApplication, {
        "escalation_policy": policy, "agency_supervisors": settings.agency_supervisors})
    application = foundation.application
    foundation.broker.include_router(intake_events_router(foundation, application, upstream_events))
    timer = FollowUpTimer(application, FollowUpSchedule(settings.database_url, settings.schema_name), foundation.run_sync,
                          clock, idle_poll_seconds=settings.follow_up_timer_poll_seconds,
                          reader=log_reader(application, foundation.run_sync, settings.database_url))
    streams = stream_parts(foundation, application, settings)
    matcher, dispatcher = webhook_parts(foundation, application, settings, clock)
    http = build_http(foundation, "notifications",
                      [notifications_router, crisis_follow_ups_router, stream_router, subscriptions_router,
                       disclosures_router("notifications")],
                      state={"clock": clock, "notice_streams": streams, "webhooks": dispatcher.webhooks,
                             "webhook_dispatch": dispatcher})
    return Service(foundation, http=http, topologies=[upstream_events],
                   log_tailers=[timer, streams, matcher, dispatcher])


def webhook_parts(foundation: Foundation, application: NotificationsApplication, settings: WebhookSettings,
                  clock: Callable[[], float]) -> tuple[SubscriptionMatcher, WebhookDispatcher]:
    """Webhook delivery: the matcher numbers each notice for the subscriptions that want it, the
    dispatcher sends them. One log reader (one connection) for both: max_connections is shared."""
    webhooks = WebhookSubscriptions(application, clock)
    reader = log_reader(application, foundation.run_sync, settings.database_url)
    dispatcher = WebhookDispatcher(webhooks, settings, reader, foundation.run_sync, clock,
                                   WebhookMetrics(foundation.metrics.registry))
    return SubscriptionMatcher(webhooks, reader, foundation.run_sync, dispatcher.nudge), dispatcher


def stream_parts(foundation: Foundation, application: NotificationsApplication,
                 settings: NotificationsSettings) -> NoticeStreams:
    """The live streams: one log reader shared by every connection, woken by the service's listener."""
    return NoticeStreams(application, foundation.run_sync,
                         log_reader(application, foundation.run_sync, settings.database_url),
                         page_size=settings.stream_page_size, poll_seconds=settings.stream_poll_seconds,
                         heartbeat_seconds=settings.stream_heartbeat_seconds)
