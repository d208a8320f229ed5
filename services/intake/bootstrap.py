"""Builds intake: the application, its relay to the broker, its care-team consumer, its HTTP API."""

from __future__ import annotations

from fastapi.routing import APIRoute

from services.intake.application import IntakeApplication
from services.intake.agency_commands import AgencyCommands
from services.intake.consumers import COMMANDS_TOPOLOGY, TOPOLOGY, agency_commands_router, care_team_router
from services.intake.http import people_router
from services.intake.translation import TRANSLATIONS
from shared.contracts import intake as intake_contracts
from shared.bootstrap import build_http, build_service
from shared.runtime import Service
from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    http_port: int = 8001
    # Agencies whose staff may register its people (STAFF_REGISTRATION_AGENCIES='["riverside"]'),
    # with the agency named in their token; by default only an agency's own system registers them.
    staff_registration_agencies: tuple[str, ...] = ()


def merged_away_statuses(route: APIRoute) -> dict[int, str | None]:
    """A command addressing a record that was merged into another is refused, naming the survivor."""
    if route.dependant.path_params and route.methods & {"POST", "PATCH", "PUT", "DELETE"}:
        return {409: "The record was merged into another (named in the answer), or a merge conflicts with one "
                     "already made"}
    return {}


def create_service(settings: ServiceSettings | None = None) -> Service:
    settings = settings or IntakeSettings()
    topology = TOPOLOGY.with_retry_delays(settings.retry_delays)
    service = build_service(settings, IntakeApplication, translations=TRANSLATIONS,
                            contracts=intake_contracts.PAYLOADS)
    application: IntakeApplication = service.application  # type: ignore[assignment]
    service.broker.include_router(care_team_router(service, application, topology))
    commands = AgencyCommands(service, application,
                              frozenset(getattr(settings, "staff_registration_agencies", ())))
    http = build_http(service, "intake", [people_router(service, application, commands)], merged_away_statuses)
    service.broker.include_router(agency_commands_router(
        service, commands, http.state.token_verifier, COMMANDS_TOPOLOGY.with_retry_delays(settings.retry_delays)))
    return service
