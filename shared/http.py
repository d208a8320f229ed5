"""What every service's HTTP API shares: health endpoints, correlation ids, the acting user."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse

from shared.domain import Provenance
from shared.telemetry import correlation_id_var

CORRELATION_HEADER = "X-Correlation-Id"


def correlation_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def carry_correlation_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        correlation_id = request.headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
        token = correlation_id_var.set(correlation_id)
        try:
            response = await call_next(request)
        finally:
            correlation_id_var.reset(token)
        response.headers[CORRELATION_HEADER] = correlation_id
        return response


async def request_provenance(
    traceparent: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Provenance:
    # Until authentication lands (issue 7) the actor is recorded honestly as unauthenticated.
    return Provenance(
        actor_id="unauthenticated",
        actor_role="unauthenticated",
        correlation_id=correlation_id_var.get() or str(uuid.uuid4()),
        traceparent=traceparent,
    )


RequestProvenance = Annotated[Provenance, Depends(request_provenance)]

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


def health_router(readiness: ReadinessCheck) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="The database and the broker are reachable")
    async def readyz() -> JSONResponse:
        checks = await readiness()
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    return router
