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


async def test_hostile_input_gets_a_4xx_and_never_a_500(intake):
    person_id = await register(intake)
    screenings = f"/people/{person_id}/screenings"
    json_headers = {"content-type": "application/json"}
    cases = {
        "oversized body": (screenings, b'{"instrument": "PHQ-9", "pad": "' + b"x" * 200_000 + b'"}', 413),
        "deeply nested JSON": (screenings, b"[" * 30_000 + b"]" * 30_000, 400),
        "invalid UTF-8": (screenings, b'{"instrument": "PHQ-9", "answers": {"\xff\xfe": 1}}', 400),
        "NUL in an item id": (screenings, b'{"instrument": "PHQ-9", "answers": {"a\\u0000b": 1}}', 422),
        "not JSON": (screenings, b"instrument=PHQ-9", 422),
        "lying content-length": (screenings, b"{}", 413),
    }
    for name, (path, body, want) in cases.items():
        headers = {**json_headers, "content-length": "999999999"} if name == "lying content-length" else json_headers
        response = await intake.post(path, content=body, headers=headers)
        assert response.status_code == want, f"{name}: {response.status_code} {response.text[:200]}"

    sql = await intake.post("/people", json={"agency": "riverside", "agency_person_id": "x'; DROP TABLE intake.intake_events; --",
                                             "preferred_name": "Robert'); DELETE FROM careplan.careplan_events; --"})
    assert sql.status_code == 201, "SQL fragments are data like any other"
    assert (await intake.get(f"/people/{sql.json()['person_id']}")).json()["preferred_name"].startswith("Robert')")
    assert (await intake.get(f"/people/{person_id}")).status_code == 200, "nothing was dropped"


async def test_a_screening_is_scored_by_the_published_rules_and_the_score_returned(intake):
    person_id = await register(intake)
    answers = {f"item{n}": 2 for n in range(1, 8)}  # GAD-7, 7 x 2 = 14: moderate, positive
    response = await intake.post(f"/people/{person_id}/screenings", json={"instrument": "GAD-7", "answers": answers},
                                 headers={"Idempotency-Key": "gad7-visit"})
    assert response.status_code == 201
    assert response.json()["result"] == {
        "instrument": "GAD-7", "domain": "mental_health", "total": 14, "band": "moderate", "positive": True,
        "flags": [], "complete": True, "urgent": False,
    }
    again = await intake.post(f"/people/{person_id}/screenings", json={"instrument": "GAD-7", "answers": answers},
                              headers={"Idempotency-Key": "gad7-visit"})
    assert again.status_code == 200 and again.json()["result"] == response.json()["result"]


@pytest.mark.parametrize(("body", "field"), [
    ({"instrument": "AUDIT-C", "answers": {"item1": 0, "item2": 3}}, ["body", "answers", "item2"]),
    ({"instrument": "PHQ-9", "answers": {"item1": 4}}, ["body", "answers", "item1"]),
    ({"instrument": "DAST-10", "answers": {"item1": 1}}, ["body", "answers", "item1"]),
    ({"instrument": "C-SSRS", "answers": {"q1": True, "q2": False, "q4": True}}, ["body", "answers", "q4"]),
    ({"instrument": "GAD-7", "answers": {"item8": 1}}, ["body", "answers", "item8"]),
])
async def test_answers_the_rules_cannot_score_are_refused_with_422_naming_the_item(intake, body, field):
    person_id = await register(intake)
    response = await intake.post(f"/people/{person_id}/screenings", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == field
    assert (await intake.get(f"/people/{person_id}")).json()["screenings"] == 0, "nothing half-recorded"


async def test_the_person_records_and_revokes_consent_and_each_is_recorded_once(system: System):
    service = await system.start("intake")
    async with system.client(service, "agency_system", agency="riverside") as agency:
        person_id = await register(agency, "consent-1")
    async with system.client(service, "person", "sam", person_id=person_id) as person:
        body = {"recipient_kind": "named_person", "recipient_id": "sister-ana", "categories": ["general", "crisis"]}
        granted = await person.post(f"/people/{person_id}/consents", json=body, headers={"Idempotency-Key": "form-7"})
        again = await person.post(f"/people/{person_id}/consents", json=body, headers={"Idempotency-Key": "form-7"})
        assert (granted.status_code, again.status_code) == (201, 200)
        directive = granted.json()["directive_id"]
        assert again.json()["directive_id"] == directive

        revoked = await person.post(f"/people/{person_id}/consents/{directive}/revocation", json={})
        revoked_again = await person.post(f"/people/{person_id}/consents/{directive}/revocation", json={})
        assert (revoked.status_code, revoked_again.status_code) == (201, 200)
        unknown = await person.post(f"/people/{person_id}/consents/no-such/revocation", json={})
        assert unknown.status_code == 404

        nameless = await person.post(f"/people/{person_id}/consents", json={"recipient_kind": "outside_agency",
                                                                             "categories": ["general"]})
        assert nameless.status_code == 422 and nameless.json()["detail"][0]["loc"] == ["body", "recipient_id"]
    async with system.client(service, "person", "kim", person_id=str(uuid.uuid4())) as someone_else:
        response = await someone_else.post(f"/people/{person_id}/consents", json=body)
        assert response.status_code == 404, "another person cannot even see that this one exists"


async def test_registration_keeps_pronouns_language_and_birth_date_and_the_person_can_amend_them(system: System):
    service = await system.start("intake")
    async with system.client(service, "agency_system", agency="riverside") as agency:
        response = await agency.post("/people", json={
            "agency": "riverside", "agency_person_id": "details-1", "preferred_name": "Sam", "pronouns": "they/them",
            "preferred_language": "es", "date_of_birth": "1990-05-17"})
        assert response.status_code == 201, response.text
        person_id = response.json()["person_id"]
    async with system.client(service, "person", "sam", person_id=person_id) as person:
        amended = await person.patch(f"/people/{person_id}", json={"preferred_name": "Sammy", "pronouns": None,
                                                                   "preferred_language": "es"})
        assert amended.status_code == 200 and amended.json()["changed"] == ["preferred_name", "pronouns"]
        record = (await person.get(f"/people/{person_id}")).json()
        assert (record["preferred_name"], record["pronouns"], record["preferred_language"], record["date_of_birth"]) == (
            "Sammy", None, "es", "1990-05-17")
        for body, field in (({"preferred_name": None}, "preferred_name"), ({"agency_person_id": "x"}, "agency_person_id"),
                            ({"preferred_language": "not a tag!"}, "preferred_language")):
            refused = await person.patch(f"/people/{person_id}", json=body)
            assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][-1] == field, refused.text


@pytest.mark.parametrize("record", ["RCH-\x001", "RCH-1\n", "\x1b[31mRCH"])
async def test_an_agency_record_id_with_control_characters_is_refused_naming_it(intake, record):
    response = await intake.post("/people", json={"agency": "riverside", "agency_person_id": record,
                                                  "preferred_name": "Jordan"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "agency_person_id"]


async def test_a_consent_recipient_with_control_characters_is_refused_naming_it(intake):
    person_id = await register(intake)
    response = await intake.post(f"/people/{person_id}/consents", json={
        "recipient_kind": "named_person", "recipient_id": "aunt\x00rosa", "categories": ["general"]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "recipient_id"]
