"""Careplan's routes tested through their dependencies: the routers are imported as they are, and
the application is swapped for one in memory with `dependency_overrides` (services/careplan/deps.py),
so access, refusals and answers are decided by that application's care team and plan."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI

from services.careplan import deps
from services.careplan.api import plan, shared_record
from services.careplan.application import CareplanApplication
from shared.access_recording import AccessRecorder, recorded_accesses
from shared.domain import Provenance
from shared.tokens import TokenSettings, TokenVerifier
from tests.support.system import TEST_JWT_SECRET, bearer
from tests.unit.conftest import IN_MEMORY
from tests.unit.test_notifications_routes import RunsInline

GOAL = {"goal_id": "g1", "in_own_words": "Keep my apartment", "life_domain": "housing"}


@pytest.fixture
def application() -> Iterator[CareplanApplication]:
    in_memory = CareplanApplication(env=IN_MEMORY)
    yield in_memory
    in_memory.close()


@pytest.fixture
def person(application: CareplanApplication) -> str:
    """A person whose care team has one clinician, casey."""
    person_id = uuid4()
    application.add_team_member(person_id, "casey", "clinician",
                                Provenance(actor_id="sam", actor_role="supervisor", correlation_id="corr-1"))
    return str(person_id)


@pytest.fixture
def client(application: CareplanApplication) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(plan.router)
    app.include_router(shared_record.router)
    app.state.token_verifier = TokenVerifier(TokenSettings("carecoord", "carecoord-dev", dev_secret=TEST_JWT_SECRET))
    app.state.access_recorder = AccessRecorder(RunsInline().run_sync, application)
    app.dependency_overrides[deps.application] = lambda: application
    app.dependency_overrides[deps.foundation] = RunsInline
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://careplan")


async def test_a_team_member_sets_a_goal_once_and_reads_it_on_the_plan(client, person):
    casey = bearer("clinician", "casey")
    async with client:
        first = await client.post(f"/people/{person}/plan/goals", json=GOAL, headers=casey)
        retried = await client.post(f"/people/{person}/plan/goals", json=GOAL, headers=casey)
        read = await client.get(f"/people/{person}/plan", headers=casey)

    assert (first.status_code, retried.status_code, read.status_code) == (201, 200, 200)
    assert [g["in_own_words"] for g in read.json()["goals"]] == ["Keep my apartment"]


async def test_staff_off_the_team_are_told_not_found_and_an_auditor_may_not_write(client, person, application):
    async with client:
        outsider = await client.get(f"/people/{person}/plan", headers=bearer("clinician", "robin"))
        auditor = await client.post(f"/people/{person}/plan/goals", json=GOAL, headers=bearer("auditor", "ada"))

    assert outsider.status_code == 404
    assert auditor.status_code == 403
    [read] = recorded_accesses(application, UUID(person))  # the refused read; the refused write is no read
    assert (read.reader_id, read.outcome.value, read.status, read.resource) == ("robin", "refused_404", 404,
                                                                               "care plan")


async def test_only_the_person_marks_what_of_a_written_goal_is_shared(client, person):
    body = {"sharing_category": "general"}
    async with client:
        await client.post(f"/people/{person}/plan/goals", json=GOAL, headers=bearer("clinician", "casey"))
        by_staff = await client.put(f"/people/{person}/plan/goals/g1/sharing-category", json=body,
                                    headers=bearer("clinician", "casey"))
        by_person = await client.put(f"/people/{person}/plan/goals/g1/sharing-category", json=body,
                                     headers=bearer("person", "p", person_id=person))

    assert by_staff.status_code == 403
    assert by_person.status_code == 200
    assert by_person.json()["goals"][0]["sharing_category"] == "general"
