"""request_provenance: the acting principal and the caller's trace, whichever dependency FastAPI
solves first (shared/http.py keeps the verified principal in the request's scope)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from shared.domain import Provenance
from shared.http import CurrentPrincipal, RequestProvenance
from shared.access import Principal
from shared.tokens import TokenSettings, TokenVerifier
from tests.support.system import TEST_JWT_SECRET, bearer
from tests.support.traceparents import continues, starts_afresh

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _app() -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(TokenSettings("carecoord", "carecoord-dev", dev_secret=TEST_JWT_SECRET))

    def described(provenance: Provenance) -> dict[str, str | None]:
        return {"actor": provenance.actor_id, "role": provenance.actor_role, "traceparent": provenance.traceparent}

    @app.get("/principal-first")
    async def principal_first(principal: CurrentPrincipal, provenance: RequestProvenance) -> dict[str, str | None]:
        assert principal.subject == provenance.actor_id
        return described(provenance)

    @app.get("/provenance-first")
    async def provenance_first(provenance: RequestProvenance, principal: CurrentPrincipal) -> dict[str, str | None]:
        assert isinstance(principal, Principal)
        return described(provenance)

    @app.get("/provenance-only")
    async def provenance_only(provenance: RequestProvenance) -> dict[str, str | None]:
        return described(provenance)

    return app


@pytest.fixture
async def client():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://service") as client:
        yield client


@pytest.mark.parametrize("path", ["/principal-first", "/provenance-first", "/provenance-only"])
async def test_the_provenance_names_the_token_s_subject_and_the_caller_s_trace(client, path):
    response = await client.get(path, headers={**bearer("care_coordinator", "casey"), "traceparent": TRACEPARENT})
    assert response.status_code == 200
    described = response.json()
    assert (described["actor"], described["role"]) == ("casey", "care_coordinator")
    assert continues(described["traceparent"], TRACEPARENT), described


@pytest.mark.parametrize("path", ["/principal-first", "/provenance-first", "/provenance-only"])
async def test_without_a_valid_token_the_request_is_refused_whichever_comes_first(client, path):
    assert (await client.get(path)).status_code == 401
    refused = await client.get(path, headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"


async def test_a_malformed_traceparent_is_not_taken(client):
    response = await client.get("/provenance-only", headers={**bearer("care_coordinator", "casey"),
                                                             "traceparent": "not-a-trace"})
    assert starts_afresh(response.json()["traceparent"], "not-a-trace"), response.json()


async def test_one_request_s_principal_is_not_another_s(client):
    await client.get("/provenance-only", headers=bearer("care_coordinator", "casey"))
    response = await client.get("/provenance-only", headers=bearer("care_coordinator", "robin"))
    assert response.json()["actor"] == "robin"
