"""Wiring shared by every service's bootstrap: one place builds the pieces, nothing at import time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from fastapi import APIRouter, FastAPI
from faststream.rabbit import RabbitBroker

from shared.contracts.base import Payload
from shared.eventstore import ServiceApplication, ensure_schema
from shared.http import correlation_middleware, health_router
from shared.messaging import BrokerPublisher, FailureRouting
from shared.relay import OutboxRelay, RelayPositions
from shared.runtime import Service
from shared.settings import ServiceSettings
from shared.topology import ConsumerTopology


def build_service(
    settings: ServiceSettings,
    application_class: type[ServiceApplication],
    to_payload: Callable[[Any], Payload] | None = None,
    topology: ConsumerTopology | None = None,
) -> Service:
    """Build a service's application, broker, relay (if it publishes) and failure routing (if it consumes)."""
    ensure_schema(settings)
    application = application_class(env=settings.eventsourcing_env())
    # Bounded: each worker may hold a database connection from the application's pool.
    executor = ThreadPoolExecutor(
        max_workers=settings.database_pool_size + settings.database_pool_overflow,
        thread_name_prefix=settings.service_name,
    )
    middlewares = []
    failure_routing = None
    if topology is not None:
        failure_routing = FailureRouting(topology)
        middlewares.append(failure_routing)
    broker = RabbitBroker(
        settings.amqp_url,
        middlewares=middlewares,
        fail_fast=True,
        app_id=settings.service_name,
        description=f"carecoord {settings.service_name}",
        logger=None,
    )
    if failure_routing is not None:
        failure_routing.bind(broker)
    service = Service(settings, application, executor, broker, topology=topology)
    if to_payload is not None:
        service.relay = OutboxRelay(
            source=settings.service_name,
            application=application,
            to_payload=to_payload,
            publisher=BrokerPublisher(broker),
            positions=RelayPositions(settings.database_url, settings.schema),
            run_sync=service.run_sync,
            batch_size=settings.relay_batch_size,
        )
    return service


def build_http(service: Service, title: str, routers: list[APIRouter]) -> FastAPI:
    app = FastAPI(title=f"carecoord {title}", version="0.1.0")
    correlation_middleware(app)
    app.include_router(health_router(service.readiness))
    for router in routers:
        app.include_router(router)
    service.http = app
    return app
