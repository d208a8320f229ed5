"""What an agency's system sees from intake's HTTP API."""

from __future__ import annotations

import uuid

import pytest

from tests.support.system import System


@pytest.fixture
async def intake(system: System):
    service = await system.start("intake")
    async with system.client(service, "agency_system", agency="riverside") as client:
        yield client


async def register(intake, record: str = "RCH-1") -> str:
    response = await intake.post("/people", json={"agency": "riverside", "agency_person_id": record,
                                                  "preferred_name": "Jordan"})
    assert response.status_code == 201, response.text
    return response.json()["person_id"]


async def test_a_repeated_registration_returns_the_same_person_with_200(intake):
    person_id = await register(intake)
    again = await intake.post("/people", json={"agency": "riverside", "agency_person_id": "RCH-1",
                                               "preferred_name": "Jordan"})
    assert again.status_code == 200 and again.json()["person_id"] == person_id


async def test_the_same_idempotency_key_records_one_screening_and_returns_the_first_result(intake):
    person_id = await register(intake)
    body = {"instrument": "GAD-7", "answers": {"item1": 2}}
    headers = {"Idempotency-Key": "visit-1"}
    first = await intake.post(f"/people/{person_id}/screenings", json=body, headers=headers)
    second = await intake.post(f"/people/{person_id}/screenings", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert (await intake.get(f"/people/{person_id}")).json()["screenings"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"instrument": "PHQ-99", "answers": {"item1": 1}}, ["body", "instrument"]),
        ({"instrument": "PHQ-9", "answers": {}}, ["body", "answers"]),
        ({"instrument": "PHQ-9", "answers": {"item1": "2"}}, ["body", "answers", "item1"]),
        ({"instrument": "PHQ-9"}, ["body", "answers"]),
        ({"instrument": "PHQ-9", "answers": {"item1": 1}, "score": 27}, ["body", "score"]),
    ],
)
async def test_invalid_screenings_are_refused_with_422_naming_the_field_and_nothing_is_recorded(intake, body, field):
    person_id = await register(intake)
    response = await intake.post(f"/people/{person_id}/screenings", json=body)
    assert response.status_code == 422
    assert any(error["loc"][: len(field)] == field for error in response.json()["detail"]), response.json()
    assert (await intake.get(f"/people/{person_id}")).json()["screenings"] == 0


async def test_a_screening_for_an_unknown_person_is_404(intake):
    response = await intake.post(f"/people/{uuid.uuid4()}/screenings", json={"instrument": "GAD-7", "answers": {"item1": 0}})
    assert response.status_code == 404


async def test_responses_carry_the_callers_correlation_id(intake):
    response = await intake.post("/people", headers={"X-Correlation-Id": "agency-batch-77"},
                                 json={"agency": "riverside", "agency_person_id": "RCH-2", "preferred_name": "Ari"})
    assert response.headers["X-Correlation-Id"] == "agency-batch-77"


async def test_concurrent_screenings_for_one_person_are_all_recorded(intake):
    import asyncio

    person_id = await register(intake)
    responses = await asyncio.gather(*(
        intake.post(f"/people/{person_id}/screenings", json={"instrument": "PHQ-9", "answers": {"item1": n % 4}})
        for n in range(20)
    ))
    assert [r.status_code for r in responses] == [201] * 20
    assert (await intake.get(f"/people/{person_id}")).json()["screenings"] == 20
