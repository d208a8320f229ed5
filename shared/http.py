"""What every service's HTTP API shares: health endpoints, correlation ids, the acting user."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.domain import Provenance
from shared.telemetry import correlation_id_var

CORRELATION_HEADER = "X-Correlation-Id"


class CorrelationIdMiddleware:
    """Carries the caller's X-Correlation-Id (or a new one) through the request and back.

    A plain ASGI middleware rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware
    runs the app in a separate task and streams the response through memory channels, which
    costs more CPU per request than the endpoint itself.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = Headers(scope=scope).get(CORRELATION_HEADER) or str(uuid.uuid4())

        async def send_with_correlation_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[CORRELATION_HEADER] = correlation_id
            await send(message)

        token = correlation_id_var.set(correlation_id)
        try:
            await self.app(scope, receive, send_with_correlation_id)
        finally:
            correlation_id_var.reset(token)


def correlation_middleware(app: FastAPI) -> None:
    app.add_middleware(CorrelationIdMiddleware)


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
