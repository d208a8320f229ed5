"""How every service answers a refusal, and how its OpenAPI document says so.

Refusals are `{"detail": ...}`: a string, or for 422 (and a 409 naming a field) a list in the
shape of FastAPI's validation errors. The statuses each operation can answer are documented from
what the operation is (authenticated, addressing a record, taking a body, creating something),
so that a route written later is documented like the others without repeating the list.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.http import current_principal
from shared.recorded_reads import recorded_read
from shared.limits import LONE_SURROGATE

_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")


class EncodableJSONResponse(JSONResponse):
    """JSON that always encodes what a refusal echoes from the request: text that is not Unicode
    (a lone surrogate) is sent as U+FFFD, and a number JSON cannot hold (NaN, infinity) as its
    text, instead of failing the refusal with a 500."""

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
        except ValueError:
            return self.render(_finite(content))
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


def _finite(content: Any) -> Any:
    """`content` with every NaN or infinity replaced by its text ("nan", "inf", "-inf")."""
    if isinstance(content, float) and not math.isfinite(content):
        return repr(content)
    if isinstance(content, dict):
        return {key: _finite(value) for key, value in content.items()}
    if isinstance(content, list | tuple):
        return [_finite(value) for value in content]
    return content


class ErrorBody(BaseModel):
    """A refusal."""

    detail: str | list[dict[str, Any]] = Field(
        description="Why the request was refused; a list names the fields, as 422 answers do")


async def _validation_failed(_: Request, error: RequestValidationError) -> Response:
    return EncodableJSONResponse({"detail": jsonable_encoder(error.errors())}, status_code=422)


async def _refused(_: Request, error: StarletteHTTPException) -> Response:
    headers = getattr(error, "headers", None)
    if error.status_code in (204, 304) or error.status_code < 200:
        return Response(status_code=error.status_code, headers=headers)
    return EncodableJSONResponse({"detail": error.detail}, status_code=error.status_code, headers=headers)


async def refuse_control_characters_in_path(request: Request) -> None:
    """An id in the path is text a person could type: a NUL or a line break in one is refused
    (422 naming it) before it can reach a lookup, a log line or the store."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and _CONTROL_CHARACTER.search(value):
            raise RequestValidationError([{
                "type": "value_error", "loc": ("path", name), "input": value,
                "msg": "Value error, must not contain control characters",
            }])


def install_error_answers(app: FastAPI) -> None:
    # What add_exception_handler does, on FastAPI's dict, whose type (unlike Starlette's method's)
    # admits a handler for one exception class.
    app.exception_handlers[RequestValidationError] = _validation_failed
    app.exception_handlers[StarletteHTTPException] = _refused


# Extra statuses for one route, by a service that knows them (409 where a record can be merged
# away or a revision be stale); None removes a default that does not apply.
RouteStatuses = Callable[[APIRoute], dict[int, str | None]]


def no_extra_statuses(_: APIRoute) -> dict[int, str | None]:
    return {}


def include_documented(app: FastAPI, routers: Iterable[APIRouter], extra: RouteStatuses = no_extra_statuses) -> None:
    """Include each router's routes in `app`, each documenting the statuses it answers besides
    its success: through FastAPI's `responses`, so the error body's schema is in the document."""
    for router in routers:
        for route in router.routes:
            single = APIRouter()
            single.routes.append(route)
            if not isinstance(route, APIRoute):
                app.include_router(single)
                continue
            statuses = {**_default_statuses(route), **extra(route)}
            app.include_router(single, responses={
                status: _response(route, status, description)
                for status, description in statuses.items() if description is not None})


def _default_statuses(route: APIRoute) -> dict[int, str | None]:
    statuses: dict[int, str | None] = {}
    if not _depends_on(route.dependant, current_principal):
        return statuses
    statuses[401] = "No bearer token, or one that is not valid"
    addresses_record = bool(route.dependant.path_params)
    if addresses_record or route.body_field is not None:
        statuses[403] = "The caller's role lacks the right this needs"
    if addresses_record:
        statuses[404] = "No such record, or one outside the caller's reach"
    if route.body_field is not None:
        statuses[400] = "The body is not JSON, not UTF-8, or nested too deeply"
        statuses[408] = "The body did not arrive in time"
        statuses[413] = "The body is larger than the service accepts"
    if _depends_on(route.dependant, recorded_read):
        statuses[503] = "The read could not be recorded (the store is unavailable): nothing of the record is sent"
    if route.status_code == 201:
        statuses[200] = "A repeat of a request already carried out: nothing new is recorded"
    return statuses


def _response(route: APIRoute, status: int, description: str) -> dict[str, Any]:
    if 200 <= status < 300:
        return {"model": route.response_model, "description": description}
    return {"model": ErrorBody, "description": description}


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(sub.call is call or _depends_on(sub, call) for sub in dependant.dependencies)
