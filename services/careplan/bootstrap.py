"""Builds careplan: the application, its relay (care team, medication, crisis follow-ups, plan
changes), its inbox consumer, the picture projection, its HTTP API."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.routing import APIRoute

from services.careplan.aggregate_writes import TooManyConflicts
from services.careplan.application import CareplanApplication
from services.careplan.consumers import TOPOLOGY, intake_events_router
from services.careplan.api.merged_ids import MergedRecordPaths
from services.careplan.api import as_of, medication, picture, plan, safety_plan, shared_record, team
from shared.disclosure_api import disclosures_router
from services.careplan.domain.medication import ScopeOfPractice
from services.careplan.picture.projection import picture_projection
from services.careplan.sharing_use_cases import DisclosureNotRecorded
from services.careplan.translation import TRANSLATIONS
from shared.contracts import careplan as careplan_contracts
from shared.bootstrap import build_foundation, build_http, build_relay
from shared.http_errors import EncodableJSONResponse
from shared.runtime import Service
from shared.settings import ServiceSettings


class CareplanSettings(ServiceSettings):
    service_name: str = "careplan"
    http_port: int = 8002
    # Roles that record prescribing decisions besides prescriber, physician and nurse practitioner
    # (PRESCRIBING_ROLES='["clinical_pharmacist"]'): scope of practice differs by state and agency.
    prescribing_roles: tuple[str, ...] = ()


def careplan_statuses(route: APIRoute) -> dict[int, str | None]:
    """A safety plan revision is optimistic: it is refused when another came first, never repeated.
    Any write may lose every race against other replicas (TooManyConflicts)."""
    statuses: dict[int, str | None] = {}
    methods = route.methods or set()
    if methods & {"POST", "PUT", "DELETE"} and route.dependant.path_params:
        statuses[503] = "Other replicas kept changing the same record: nothing was saved; retry after Retry-After"
    if route.path.endswith("/shared"):
        statuses[503] = "The disclosure could not be recorded in the accounting of disclosures: nothing was shown"
    if route.path.endswith("/safety-plan") and "PUT" in methods:
        statuses.update({409: "Someone revised the safety plan since the version this one is based on", 200: None})
    return statuses


async def retry_later(_: Request, busy: Exception) -> Response:
    """503 with Retry-After, from whichever route's write lost every race and saved nothing, or
    whose disclosure could not be recorded and was not made."""
    return EncodableJSONResponse({"detail": str(busy)}, status_code=503,
                                 headers={"Retry-After": str(TooManyConflicts.retry_after_seconds)})


def create_service(settings: ServiceSettings | None = None) -> Service:
    """Careplan: its application, the relay publishing its published streams (translation.py), the
    consumer of intake's events, the picture projection and the HTTP API."""
    settings = settings or CareplanSettings()
    intake_events = TOPOLOGY.with_retry_delays(settings.retry_delays)
    scope = ScopeOfPractice.with_configured(getattr(settings, "prescribing_roles", ()))
    foundation = build_foundation(settings, CareplanApplication, {"scope_of_practice": scope})
    application = foundation.application
    foundation.broker.include_router(intake_events_router(foundation, application, intake_events))
    pictures = picture_projection(application, settings.database_url, settings.schema_name, foundation.run_sync)
    routers = [*(api.router for api in (team, plan, medication, safety_plan, shared_record, picture, as_of)),
               disclosures_router("careplan")]
    http = build_http(foundation, "careplan", routers, careplan_statuses,
                      exception_handlers={TooManyConflicts: retry_later, DisclosureNotRecorded: retry_later},
                      state={"picture_store": pictures.store})
    http.add_middleware(MergedRecordPaths, foundation=foundation)  # a merged-away id serves the survivor
    return Service(foundation, http=http, topologies=[intake_events],
                   relay=build_relay(foundation, TRANSLATIONS, careplan_contracts.PAYLOADS), log_tailers=[pictures])
