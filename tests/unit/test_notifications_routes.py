"""Notifications' route tested through its dependencies: the application is swapped for one in
memory with `dependency_overrides`, as deps.py lets any test do."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from services.notifications import deps
from services.notifications.application import NotificationsApplication
from services.notifications.http import router
from shared.access_recording import AccessRecorder
from shared.following import UpstreamChange
from shared.tokens import TokenSettings, TokenVerifier
from tests.support.system import TEST_JWT_SECRET, bearer
from tests.unit.conftest import IN_MEMORY
from tests.unit.test_following import NOW, upstream


class RunsInline:
    """The part of a service's Foundation a route uses: runs the application's code where it is."""

    async def run_sync(self, fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        return fn(*args, **kwargs)


@pytest.fixture
def application() -> Iterator[NotificationsApplication]:
    in_memory = NotificationsApplication(env=IN_MEMORY)
    yield in_memory
    in_memory.close()


@pytest.fixture
def client(application: NotificationsApplication) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(router)
    app.state.token_verifier = TokenVerifier(TokenSettings("carecoord", "carecoord-dev", dev_secret=TEST_JWT_SECRET))
    app.state.access_recorder = AccessRecorder(RunsInline().run_sync, application)
    app.dependency_overrides[deps.application] = lambda: application
    app.dependency_overrides[deps.foundation] = RunsInline
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifications")


async def test_a_team_member_reads_the_due_notifications_and_an_outsider_is_told_not_found(client, application):
    person = uuid4()
    joined, screened = upstream(person, 1), upstream(person, 2)
    application.apply_change(UpstreamChange(joined, lambda f: f.team_member_joined(joined, "casey", "clinician")))
    application.apply_change(application.team_notice(screened, "screening", "A screening to review", NOW))

    async with client:
        member = await client.get(f"/people/{person}/notifications", headers=bearer("clinician", "casey"))
        outsider = await client.get(f"/people/{person}/notifications", headers=bearer("clinician", "robin"))

    assert member.status_code == 200
    assert [n["kind"] for n in member.json()["due"]] == ["screening"]
    assert outsider.status_code == 404
