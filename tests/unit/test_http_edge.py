"""The HTTP edge's pieces that need no server: finding text that is not Unicode in a JSON body,
and answers that always encode."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

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
