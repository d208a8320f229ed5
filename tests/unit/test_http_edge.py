"""The HTTP edge's pieces that need no server: finding text that is not Unicode in a JSON body,
and answers that always encode."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from shared.contracts.fields import FiniteFloat
from shared.http_errors import install_error_answers
from shared.limits import lone_surrogate_location


@pytest.mark.parametrize(("body", "where"), [
    (b'{"name": "\\ud800"}', ["name"]),
    (b'{"name": "ok", "items": [1, {"x": "a\\uDFFFb"}]}', ["items", 1, "x"]),
    (b'{"a\\ud83d": 1}', ["a\\ud83d"]),
    (b'["\\udc00\\ud800"]', [0]),
    (b'{"raw": "\xed\xa0\x80"}', ["raw"]),  # a surrogate's bytes, which json.loads decodes
    (b'{"pair": "\\ud83d\\ude00"}', None),
    (b'{"escaped backslash": "\\\\ud800"}', None),
    (b'{"plain": "no escapes here"}', None),
    (b'{"not json": "\\ud800"', None),  # the application answers bad JSON itself
])
def test_a_lone_surrogate_is_found_where_it_is(body, where):
    assert lone_surrogate_location(body) == where


async def test_a_validation_error_echoing_a_lone_surrogate_is_still_a_422():
    app = FastAPI()
    install_error_answers(app)

    @app.get("/echo")
    async def echo() -> None:
        raise RequestValidationError([{"type": "string_unicode", "loc": ("body", "preferred_name"),
                                       "msg": "Input should be a valid string", "input": "Jo\ud800"}])

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge") as client:
        response = await client.get("/echo")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "preferred_name"]
    assert response.json()["detail"][0]["input"] == "Jo\ufffd"


class Measured(BaseModel):
    value: FiniteFloat


@pytest.mark.parametrize("body", [b'{"value": NaN}', b'{"value": 1e999}', b'{"value": -Infinity}'])
async def test_a_refused_number_that_is_not_finite_is_echoed_as_text_in_a_422(body):
    app = FastAPI()
    install_error_answers(app)

    @app.post("/measure")
    async def measure(_: Measured) -> None:
        return None

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
        response = await client.post("/measure", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "value"] and error["input"] in ("nan", "inf", "-inf")
