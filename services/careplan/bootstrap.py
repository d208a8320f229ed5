"""Builds careplan: the application, its inbox consumer and its HTTP API."""

from __future__ import annotations

from services.careplan.application import CareplanApplication
from services.careplan.consumers import TOPOLOGY, intake_events_router
from services.careplan.http import timeline_router
from shared.bootstrap import build_http, build_service
from shared.runtime import Service
from shared.settings import ServiceSettings


class CareplanSettings(ServiceSettings):
    service_name: str = "careplan"
    http_port: int = 8002


def create_service(settings: ServiceSettings | None = None) -> Service:
    settings = settings or CareplanSettings()
    topology = TOPOLOGY.with_retry_delays(settings.retry_delays)
    service = build_service(settings, CareplanApplication, topology=topology)
    application: CareplanApplication = service.application  # type: ignore[assignment]
    service.broker.include_router(intake_events_router(service, application, topology))
    build_http(service, "careplan", [timeline_router(service, application)])
    return service
