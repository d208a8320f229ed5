"""Builds intake: the application, its relay to the broker, its care-team consumer, its HTTP API."""

from __future__ import annotations

from fastapi.routing import APIRoute

from services.intake.application import IntakeApplication
from services.intake.agency_commands import AgencyCommands
from services.intake.consumers import COMMANDS_TOPOLOGY, TOPOLOGY, agency_commands_router, care_team_router
from services.intake.http import router as people_router
from services.intake.translation import TRANSLATIONS
from shared.contracts import intake as intake_contracts
from shared.bootstrap import build_foundation, build_http, build_relay
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
    if route.dependant.path_params and (route.methods or set()) & {"POST", "PATCH", "PUT", "DELETE"}:
        return {409: "The record was merged into another (named in the answer), or a merge conflicts with one "
                     "already made"}
    return {}


def create_service(settings: ServiceSettings | None = None) -> Service:
    """Intake: its application, the relay publishing the person stream, two consumed queues
    (careplan's care-team events, agencies' commands) and the HTTP API."""
    settings = settings or IntakeSettings()
    care_teams = TOPOLOGY.with_retry_delays(settings.retry_delays)
    agency_commands = COMMANDS_TOPOLOGY.with_retry_delays(settings.retry_delays)
    foundation = build_foundation(settings, IntakeApplication)
    application = foundation.application
    commands = AgencyCommands(foundation, application,
                              frozenset(getattr(settings, "staff_registration_agencies", ())))
    http = build_http(foundation, "intake", [people_router], merged_away_statuses,
                      state={"agency_commands": commands})
    foundation.broker.include_router(care_team_router(foundation, application, care_teams))
    foundation.broker.include_router(
        agency_commands_router(foundation, commands, http.state.token_verifier, agency_commands))
    return Service(foundation, http=http, topologies=[care_teams, agency_commands],
                   relay=build_relay(foundation, TRANSLATIONS, intake_contracts.PAYLOADS))
