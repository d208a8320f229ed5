"""What a service tells Prometheus: `GET /metrics` in Prometheus's text format, one registry per
service (tests run several services in one process, so never the process-wide default registry).

Labels are never ids: routes are their templates (`/people/{person_id}`), queues and relays their
names, urgencies and outcomes their kinds. Nothing here reads clinical content.

Figures that live elsewhere (the head of the event log, queue depths in the broker) are read when
Prometheus scrapes, bounded in time; everything else is counted where it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_asgi_app
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# Batch sizes: group commits and relay batches run from 1 to a few hundred.
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
# From a request of a few milliseconds to an event that waited in a retry queue.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
REFRESH_TIMEOUT_SECONDS = 2.0


class ServiceMetrics:
    """Every figure a service reports, in its own registry."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_request_duration = Histogram(
            "carecoord_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template (Server-Sent Event streams excluded)",
            ["method", "route", "status"], registry=r, buckets=LATENCY_BUCKETS)
        self.log_head = Gauge(
            "carecoord_event_log_head_position", "Position of the newest event in the service's event log",
            registry=r)
        self.relay_published_position = Gauge(
            "carecoord_relay_published_position", "Last event-log position the relay has seen confirmed by the broker",
            ["relay"], registry=r)
        self.relay_lag = Gauge(
            "carecoord_relay_lag_events", "Event-log head minus the relay's published position (at scrape time)",
            ["relay"], registry=r)
        self.relay_batch_size = Histogram(
            "carecoord_relay_batch_size", "Events published per relay batch", ["relay"],
            registry=r, buckets=BATCH_BUCKETS)
        self.relay_published = Counter(
            "carecoord_relay_published_events", "Events the relay published and saw confirmed", ["relay"], registry=r)
        self.group_commit_batch_size = Histogram(
            "carecoord_group_commit_batch_size", "Items committed in one transaction, by what commits them",
            ["committer"], registry=r, buckets=BATCH_BUCKETS)
        self.consumer_applied_position = Gauge(
            "carecoord_consumer_applied_position",
            "Source event-log position of the last upstream event this service applied (compare with "
            "the source's carecoord_relay_published_position)", ["source"], registry=r)
        self.consumer_lag = Histogram(
            "carecoord_consumer_lag_seconds", "From an upstream event's occurrence to this service applying it",
            ["source"], registry=r, buckets=LATENCY_BUCKETS)
        self.queue_depth = Gauge(
            "carecoord_queue_messages", "Messages ready in each queue this service consumes (at scrape time)",
            ["queue", "kind"], registry=r)
        self.dead_letter_depth = Gauge(
            "carecoord_dead_letter_messages", "Messages parked in this service's dead-letter queues (at scrape time)",
            ["queue"], registry=r)
        self.refresh_failures = Counter(
            "carecoord_metrics_refresh_failures", "Scrapes that could not read the log head or a queue depth",
            ["what"], registry=r)
        self._refreshers: list[Callable[[], Awaitable[None]]] = []

    def refresh_with(self, refresher: Callable[[], Awaitable[None]]) -> None:
        """Run `refresher` before each scrape (figures that are read, not counted)."""
        self._refreshers.append(refresher)

    async def refresh(self) -> None:
        for refresher in self._refreshers:
            try:
                await asyncio.wait_for(refresher(), REFRESH_TIMEOUT_SECONDS)
            except Exception as error:  # noqa: BLE001 - a scrape still answers with what it has
                self.refresh_failures.labels(getattr(refresher, "__name__", "refresh")).inc()
                log.warning("metrics refresh failed: %s", type(error).__name__)

    def batch_observer(self, committer: str) -> Callable[[int], None]:
        return self.group_commit_batch_size.labels(committer).observe


class MetricsEndpoint:
    """`GET /metrics`: refreshes what is read at scrape time, then prometheus_client's own ASGI app.
    An ASGI app (not a FastAPI route), so it stays out of the OpenAPI document and of the request
    histogram."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics
        self._app = make_asgi_app(metrics.registry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._metrics.refresh()
        await self._app(scope, receive, send)


class RequestMetrics:
    """Times each HTTP request by its route template, once the router has matched it (unmatched:
    `unmatched`, so that raw paths, which hold person ids, never become labels). A Server-Sent
    Events response lives as long as its client and is left out."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self._histogram = metrics.http_request_duration

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/metrics":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        streaming = False

        async def observed_send(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                streaming = any(name.lower() == b"content-type" and value.startswith(b"text/event-stream")
                                for name, value in message.get("headers", ()))
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            if not streaming:
                route = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                self._histogram.labels(scope["method"], template, str(status)).observe(
                    time.perf_counter() - started)


def queue_depth_refresher(metrics: ServiceMetrics, connection: Callable[[], Any],
                          queues: Sequence[tuple[str, str]]) -> Callable[[], Awaitable[None]]:
    """Reads each (queue, kind) depth with a passive declare on a channel of its own (a passive
    declare of a missing queue closes its channel); kind `dead_letter` also sets the dead-letter gauge."""

    async def queue_depths() -> None:
        link = connection()
        if link is None or not link.connected.is_set():
            raise ConnectionError("broker not connected")
        channel = await link.channel(publisher_confirms=False)
        try:
            for name, kind in queues:
                queue = await channel.declare_queue(name, passive=True)
                count = queue.declaration_result.message_count
                metrics.queue_depth.labels(name, kind).set(count)
                if kind == "dead_letter":
                    metrics.dead_letter_depth.labels(name).set(count)
        finally:
            with contextlib.suppress(Exception):
                await channel.close()

    return queue_depths
