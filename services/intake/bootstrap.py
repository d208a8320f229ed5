"""Builds intake: the application, its relay to the broker, and its HTTP API."""

from __future__ import annotations

from services.intake.application import IntakeApplication
from services.intake.http import people_router
from services.intake.translation import to_payload
from shared.contracts import intake as intake_contracts
from shared.bootstrap import build_http, build_service
from shared.runtime import Service
from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    http_port: int = 8001


def create_service(settings: ServiceSettings | None = None) -> Service:
    settings = settings or IntakeSettings()
    service = build_service(settings, IntakeApplication, to_payload=to_payload, contracts=intake_contracts.PAYLOADS)
    build_http(service, "intake", [people_router(service, service.application)])  # type: ignore[arg-type]
    return service
