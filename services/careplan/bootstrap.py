"""Builds careplan: the application, its relay (care-team events), its inbox consumer, the picture
projection, its HTTP API."""

from __future__ import annotations

from services.careplan.application import CareplanApplication
from services.careplan.consumers import TOPOLOGY, intake_events_router
from services.careplan.http import careplan_router
from services.careplan.picture.projection import picture_projection
from services.careplan.picture_http import picture_router
from services.careplan.translation import TRANSLATIONS
from shared.contracts import careplan as careplan_contracts
from shared.bootstrap import build_http, build_service
from shared.runtime import Service
from shared.settings import ServiceSettings


class CareplanSettings(ServiceSettings):
    service_name: str = "careplan"
    http_port: int = 8002


def create_service(settings: ServiceSettings | None = None) -> Service:
    settings = settings or CareplanSettings()
    topology = TOPOLOGY.with_retry_delays(settings.retry_delays)
    service = build_service(settings, CareplanApplication, translations=TRANSLATIONS,
                            contracts=careplan_contracts.PAYLOADS)
    application: CareplanApplication = service.application  # type: ignore[assignment]
    service.broker.include_router(intake_events_router(service, application, topology))
    pictures = picture_projection(application, settings.database_url, settings.schema, service.run_sync)
    service.log_followers.append(pictures)
    build_http(service, "careplan", [careplan_router(service, application),
                                     picture_router(service, application, pictures.store)])
    return service
