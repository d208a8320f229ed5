"""What every service's HTTP API shares: health endpoints, correlation ids, the acting user."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.access import MissingRight, NotVisible, Principal, RecordContext, Right, authorize
from shared.domain import Provenance
from shared.telemetry import correlation_id_var, usable_correlation_id, usable_traceparent
from shared.tokens import InvalidToken, TokenVerifier
from shared.tracing import current_traceparent

CORRELATION_HEADER = "X-Correlation-Id"
# Ids only, never clinical content: who read or streamed whose record (shared/recorded_reads.py).
audit_log = logging.getLogger("carecoord.audit")


class CorrelationIdMiddleware:
    """Carries the caller's X-Correlation-Id through the request and back; one that is not 1-128
    characters of [A-Za-z0-9._:-] is ignored and a new one minted, as when none is given (the id
    is in every log line and on every event the request causes, so it is bounded, not refused).

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
        correlation_id = usable_correlation_id(Headers(scope=scope).get(CORRELATION_HEADER)) or str(uuid.uuid4())

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


# Dependencies are `async def`: FastAPI runs a plain `def` dependency in a worker thread, a thread
# hop per request for what is a few microseconds of work.
_bearer = HTTPBearer(auto_error=False, description="A JWT from the agency's identity provider")
_PRINCIPAL_KEY = "carecoord.principal"


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The authenticated caller, or 401. Every endpoint but health depends on this."""
    if credentials is None:
        raise _unauthorized("a bearer token is required")
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal = verifier.verify(credentials.credentials)
    except InvalidToken as error:
        raise _unauthorized(f"invalid token: {error}") from None
    request.scope[_PRINCIPAL_KEY] = principal  # for request_provenance, without a dependency of its own
    return principal


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


class RefusedRequest(HTTPException):
    """A refusal by the access rules (403, or 404 for a record outside the caller's reach), as
    opposed to a 404 for what truly does not exist: the caller cannot tell them apart, the access
    record does (shared/recorded_reads.py)."""


def authorize_request(principal: Principal, right: Right, record: RecordContext) -> None:
    """403 naming the right the caller's role lacks; 404 for a record outside their reach, so that
    being outside one's team and truly absent look the same (existence does not leak)."""
    try:
        authorize(principal, right, record)
    except MissingRight as refusal:
        raise RefusedRequest(status.HTTP_403_FORBIDDEN, str(refusal)) from None
    except NotVisible:
        raise RefusedRequest(status.HTTP_404_NOT_FOUND, "not found") from None


def invalid_field(field: str, message: str) -> HTTPException:
    """422 in the shape of FastAPI's own validation errors, naming the body field to correct."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         [{"loc": ["body", field], "msg": message, "type": "value_error"}])


async def request_provenance(request: Request) -> Provenance:
    """Who acts, in which correlation and trace. The principal is the one CurrentPrincipal verified
    for this request (verified here if this dependency is solved first), and the `traceparent`
    header is read as is: as sub-dependencies (a principal, its bearer scheme, a header parameter)
    they cost FastAPI's solver a walk per request even when the principal's value was cached,
    about a fifth of its dependency work per screening (bench/README.md, `intake_cpu.py`)."""
    principal = request.scope.get(_PRINCIPAL_KEY) or await current_principal(request, await _bearer(request))
    traceparent = request.headers.get("traceparent")
    return Provenance(
        actor_id=principal.subject,
        actor_role=principal.role.value,
        correlation_id=correlation_id_var.get() or str(uuid.uuid4()),
        # The request's own span when traced (a child of the caller's, if any), so the relay
        # continues this trace when it publishes; else the caller's, if well formed.
        traceparent=current_traceparent() or usable_traceparent(traceparent),
    )


RequestProvenance = Annotated[Provenance, Depends(request_provenance)]

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


def health_router(readiness: ReadinessCheck) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="The database and the broker are reachable",
                responses={503: {"description": "Not ready: the checks say which is not reachable"}})
    async def readyz() -> JSONResponse:
        checks = await readiness()
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    return router
