"""Webhook delivery's settings (NotificationsSettings inherits them)."""

from __future__ import annotations

from services.notifications.domain.delivery import ROUTINE_RETRY_DELAYS, URGENT_RETRY_DELAYS
from shared.settings import ServiceSettings


class WebhookSettings(ServiceSettings):
    # Where the links in a webhook point: notifications' address as apps reach it.
    webhook_public_base_url: str = "http://127.0.0.1:8003"
    # Development only: receivers on this machine over plain http.
    webhook_allow_loopback_http: bool = False
    # Receivers at private addresses (inside the organisation's network); refused by default (SSRF).
    webhook_allow_private_networks: bool = False
    webhook_timeout: float = 10.0  # seconds for a whole request
    webhook_routine_retry_delays: tuple[float, ...] = ROUTINE_RETRY_DELAYS
    webhook_urgent_retry_delays: tuple[float, ...] = URGENT_RETRY_DELAYS
    # Requests in flight at once per subscription, for routine and (separately) urgent lanes.
    webhook_concurrency: int = 4
