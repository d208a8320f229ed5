"""Wiring shared by every service's bootstrap: one place builds the pieces, nothing at import time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.telemetry import TelemetryConfig
from starlette.routing import Route
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitBroker, RabbitRouter
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from faststream.rabbit.annotations import RabbitMessage
from faststream.specification import AsyncAPI

from shared.access_recording import AccessRecorder
from shared.broker_tracing import SamplingAwareTelemetryMiddleware
from shared.consuming import PersonEventConsumer
from shared.contracts.base import Payload
from shared.envelope import AnyIntegrationEvent
from shared.eventstore import ensure_schema
from shared.history_http import router as history_router
from shared.http import CurrentPrincipal, correlation_middleware, health_router
from shared.http_errors import (ErrorBody, RouteStatuses, include_documented, install_error_answers,
                                no_extra_statuses, refuse_control_characters_in_path)
from shared.limits import RequestBodyLimits
from shared.messaging import BrokerPublisher, EventSources, FailureRouting
from shared.metrics import MetricsEndpoint, RequestMetrics, ServiceMetrics
from shared.log_reading import log_reader
from shared.relay import OutboxRelay, RelayPositions, Translations
from shared.request_sampling import RequestSampling, UnsampledRequestContext
from shared.runtime import ApplicationT, Foundation, Service
from shared.settings import ServiceSettings
from shared.tracing import configure_tracing, tracing_enabled
from shared.tokens import TokenVerifier
from shared.topology import ConsumerTopology


def build_foundation(settings: ServiceSettings, application_class: type[ApplicationT],
                     application_options: Mapping[str, Any] | None = None) -> Foundation[ApplicationT]:
    """A service's application (given `application_options` besides its environment), the pool that
    runs it and its broker: what the rest of the service is built on."""
    ensure_schema(settings)
    # Before the application exists: psycopg's instrumentation patches how connections are made,
    # and the application's pool opens its connections as it is built (those made earlier would
    # never be traced, and the pool keeps them: no statement of the event store was).
    traced = configure_tracing(settings.service_name)
    application = application_class(env=settings.eventsourcing_env(), **(application_options or {}))
    # Bounded: each worker may hold a database connection from the application's pool.
    executor = ThreadPoolExecutor(
        max_workers=settings.database_pool_size + settings.database_pool_overflow,
        thread_name_prefix=settings.service_name,
    )
    metrics = ServiceMetrics(settings.service_name)
    # FastStream's own figures per queue and handler: messages received, processed (by outcome),
    # their duration and size, and publishes (the relay's and retries').
    middlewares: list[Any] = [RabbitPrometheusMiddleware(registry=metrics.registry, app_name=settings.service_name,
                                                         metrics_prefix="carecoord_broker")]
    if traced:
        # Outermost: a delivery's consume span (continuing the publisher's `traceparent`) covers
        # everything done with it, and each publish carries its own span's `traceparent` on.
        # FastStream's, minus its per-message work on unsampled traces (shared/broker_tracing.py).
        middlewares.insert(0, SamplingAwareTelemetryMiddleware())
    broker = RabbitBroker(
        settings.amqp_url,
        fail_fast=True,
        app_id=settings.service_name,
        description=f"carecoord {settings.service_name}",
        logger=None,
        middlewares=middlewares,
    )
    return Foundation(settings, application, executor, broker, metrics)


def build_relay(foundation: Foundation, translations: Translations, contracts: Sequence[type[Payload]]) -> OutboxRelay:
    """The relay that publishes the service's events (those with a translation) to the broker."""
    settings, application = foundation.settings, foundation.application
    relay_name = f"{settings.service_name}-relay"
    published = foundation.metrics.relay_published.labels(relay_name)
    batch_sizes = foundation.metrics.relay_batch_size.labels(relay_name)
    position = foundation.metrics.relay_published_position.labels(relay_name)

    def on_published(count: int, last: int) -> None:
        published.inc(count)
        batch_sizes.observe(count)
        position.set(last)

    return OutboxRelay(
        source=settings.service_name,
        application=application,
        translations=translations,
        publisher=BrokerPublisher(foundation.broker, contracts, user_id=settings.broker_user),
        positions=RelayPositions(settings.database_url, settings.schema_name),
        run_sync=foundation.run_sync,
        batch_size=settings.relay_batch_size,
        reader=log_reader(application, foundation.run_sync, settings.database_url),
        on_published=on_published,
    )


def consumer_router(service: Foundation, topology: ConsumerTopology) -> RabbitRouter:
    """A router for one consumed queue, whose failed messages go to that queue's own retry and
    dead-letter queues (the service declares the topology when it connects: list it in Service)."""
    routing = FailureRouting(topology, service.settings.broker_user)
    routing.bind(service.broker)
    return RabbitRouter(middlewares=[routing])


def follower_router(service: Foundation, topology: ConsumerTopology, consume: PersonEventConsumer,
                    description: str) -> RabbitRouter:
    """A router that hands every integration event on `topology`'s queue to `consume`, once its
    publisher is authenticated as its source: a message that is not changes nothing."""
    router = consumer_router(service, topology)
    sources = EventSources(service.settings.broker_user, service.settings.event_publisher)
    context = service.broker.context
    metrics = service.metrics

    @router.subscriber(
        topology.inbox_queue(),
        topology.exchange,
        channel=Channel(prefetch_count=service.settings.consumer_prefetch),
        # Failures are routed by FailureRouting; if even that fails, requeue rather than drop.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=topology.inbox_name,
        description=description,
    )
    async def on_upstream_event(event: AnyIntegrationEvent) -> None:
        # The delivery is read from the broker's context, not injected as a parameter: resolving an
        # injected message suspends the delivery's task, so a person's deliveries could reach the
        # per-person lock (shared/consuming.py) out of order and go round the retry queues.
        message: RabbitMessage = context.get_local("message")
        sources.authenticate(event, message.raw_message.user_id, message.headers)
        await consume(event)
        metrics.consumer_applied_position.labels(event.source).set(event.position)
        metrics.consumer_lag.labels(event.source).observe(
            max(0.0, (datetime.now(timezone.utc) - event.occurred_at).total_seconds()))

    return router


def asyncapi_document(service: Foundation | Service) -> dict[str, Any]:
    """What the service publishes and consumes, generated by FastStream from the code itself."""
    return AsyncAPI(
        service.broker, title=f"carecoord {service.name}", version="0.1.0",
        description=f"Integration events {service.name} publishes and consumes",
    ).to_specification().to_jsonable()


# As FastAPI types its handlers: each takes the exception class it is registered for.
ExceptionHandler = Callable[[Request, Any], Coroutine[Any, Any, Response]]


def build_http(service: Foundation, title: str, routers: list[APIRouter],
               extra_statuses: RouteStatuses = no_extra_statuses,
               exception_handlers: Mapping[int | type[Exception], ExceptionHandler] | None = None,
               state: Mapping[str, Any] | None = None) -> FastAPI:
    """The service's HTTP API; `extra_statuses` documents what only the service knows a route
    answers (see shared/http_errors.py), `exception_handlers` answer its own refusals wherever
    raised, `state` holds the parts its routes depend on besides the foundation (its deps.py)."""
    app = FastAPI(title=f"carecoord {title}", version="0.1.0",
                  dependencies=[Depends(refuse_control_characters_in_path)],
                  exception_handlers=dict(exception_handlers or {}),
                  telemetry=http_telemetry(tracing_enabled()))
    # What routes' dependencies read (each service's deps.py), so tests can override them.
    app.state.foundation = service
    for name, part in (state or {}).items():
        setattr(app.state, name, part)
    # Built here so that a service without a verification key refuses to start.
    app.state.token_verifier = TokenVerifier(service.settings.token_settings())
    # Every read of a person's record is recorded through it before it is answered.
    app.state.read_timeout = service.settings.read_timeout
    app.state.access_recorder = AccessRecorder(service.run_sync, service.application,
                                               service.settings.access_record_timeout,
                                               observe_batch=service.metrics.batch_observer("access_records"))
    install_error_answers(app)
    app.add_middleware(RequestBodyLimits, max_bytes=service.settings.max_body_bytes,
                       timeout_seconds=service.settings.request_body_timeout)
    app.add_middleware(RequestMetrics, metrics=service.metrics)  # outside the limits: refusals are timed too
    correlation_middleware(app)  # outermost but one: refusals of a body carry the id too
    app.add_middleware(UnsampledRequestContext)  # outermost: everything runs in the request's trace
    app.include_router(health_router(service.readiness))
    # Prometheus scrapes without a token: the figures carry no ids and no clinical content (see
    # shared/metrics.py). Not a FastAPI route: kept out of the OpenAPI document, like /asyncapi.json's
    # machinery, and documented in the README's "Operating carecoord".
    app.router.routes.append(Route("/metrics", MetricsEndpoint(service.metrics), methods=["GET"],
                                   include_in_schema=False))

    @app.get("/asyncapi.json", tags=["docs"], summary="AsyncAPI document of this service's messages",
             responses={401: {"model": ErrorBody, "description": "No bearer token, or one that is not valid"}})
    async def asyncapi(_: CurrentPrincipal) -> dict[str, Any]:
        return asyncapi_document(service)

    include_documented(app, routers, extra_statuses)
    # Every service serves its own part of a person's history, from its own store.
    include_documented(app, [history_router])
    return app


UNTRACED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


def http_telemetry(traced: bool) -> TelemetryConfig:
    """FastAPI's own OpenTelemetry instrumentation: when traced, a server span per request, named
    by route template once the router has matched it (never by the raw path, which holds ids),
    continuing a caller's `traceparent`; scrapes and probes are not traced, and requests whose
    trace is not sampled skip FastAPI's work for a span nobody records (shared/request_sampling.py).

    Only the server span: FastAPI's spans for dependency resolution, the endpoint and serialisation
    (several per request) are left out, and its metrics and logs are Prometheus's and our own
    logging's business. Chosen over opentelemetry-instrumentation-fastapi, which made ~450 more
    Python calls per request for the same span (it matches every route again to name it, and
    decodes every header for each one it reads): bench/README.md, 2026-12-07 (03:10-04:06 UTC).
    Untraced, nothing is set up at all (FastAPI would otherwise start tracing as soon as any SDK
    tracer provider appears in the process)."""
    return TelemetryConfig(tracing=traced, metrics=False, logs=False, operation_spans=False,
                           auto_configure=False, exclude=RequestSampling(UNTRACED_PATHS))
