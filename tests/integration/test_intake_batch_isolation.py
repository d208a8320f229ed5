"""Agencies share intake's batches: one agency's hostile or failing request never costs another's."""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

import httpx
import pytest

from services.intake.domain.person import Person
from tests.support.system import System, bearer

CONTACT = {"kind": "crisis_line_call", "location": "phone", "responders": [], "outcome": "resolved_in_community",
           "what_helped": "CLINICAL-DETAIL: a walk with the dog"}


def client(service, agency: str) -> httpx.AsyncClient:
    # A 500 is an answer to look at, not an exception raised into the test.
    transport = httpx.ASGITransport(app=service.http, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://intake", headers=bearer("agency_system", agency=agency))


async def register(client: httpx.AsyncClient, agency: str, record: str) -> str:
    response = await client.post("/people", json={"agency": agency, "agency_person_id": record, "preferred_name": "R"})
    assert response.status_code == 201, response.text
    return response.json()["person_id"]


async def test_one_agencys_burst_is_recorded_whole_beside_anothers_hostile_requests(system: System, monkeypatch,
                                                                                   caplog):
    service = await system.start("intake")
    async with client(service, "riverside") as riverside, client(service, "hillside") as hillside:
        screened = await register(riverside, "riverside", "burst-1")
        hostile = await register(hillside, "hillside", "hostile-1")
        crashing = await register(hillside, "hillside", "hostile-2")

        record_crisis_contact = Person.record_crisis_contact

        def crashes_for_one_person(self, *args, **kwargs):
            due = record_crisis_contact(self, *args, **kwargs)  # the event is triggered, then a bug strikes
            if self.id == UUID(crashing):
                raise RuntimeError("a bug in the domain")
            return due

        monkeypatch.setattr(Person, "record_crisis_contact", crashes_for_one_person)
        keys = [f"visit-{n}" for n in range(40)] + [f"visit-{n}" for n in range(10)]  # ten sent twice at once
        burst = [riverside.post(f"/people/{screened}/screenings", headers={"Idempotency-Key": key},
                                json={"instrument": "GAD-7", "answers": {f"item{i}": n % 4 for i in range(1, 8)}})
                 for n, key in zip([*range(40), *range(10)], keys)]
        attacks = [
            hillside.post(f"/people/{hostile}/crisis-contacts", json={**CONTACT, "occurred_at": "9999-12-31T23:00:00Z"}),
            hillside.post(f"/people/{hostile}/crisis-contacts",
                          json={**CONTACT, "occurred_at": "9999-12-31T23:00:00-05:00"}),
            hillside.post(f"/people/{crashing}/crisis-contacts", json={**CONTACT, "occurred_at": "2026-11-20T16:00:00Z"}),
        ]
        with caplog.at_level(logging.ERROR):
            responses = await asyncio.gather(*burst[:20], *attacks, *burst[20:])
        screenings, attacked = responses[:20] + responses[23:], responses[20:23]

        assert sorted(r.status_code for r in screenings) == [200] * 10 + [201] * 40, [r.text for r in screenings]
        by_key: dict[str, set[str]] = {}
        for key, response in zip(keys, screenings):
            by_key.setdefault(key, set()).add(response.json()["screening_id"])
        assert all(len(ids) == 1 for ids in by_key.values()), "one result per idempotency key"
        assert (await riverside.get(f"/people/{screened}")).json()["screenings"] == 40

        for response in attacked[:2]:
            assert response.status_code == 422, response.text
            assert response.json()["detail"][0]["loc"] == ["body", "occurred_at"]
        assert attacked[2].status_code == 500
        assert "CLINICAL-DETAIL" not in attacked[2].text
    assert service.application.get_person(UUID(crashing)).crisis_contacts == {}, "nothing half-recorded"
    assert service.application.get_person(UUID(hostile)).crisis_contacts == {}
    failures = [record.getMessage() for record in caplog.records if crashing in record.getMessage()]
    assert failures, "the failure is logged with the ids it concerns"
    assert not any("CLINICAL-DETAIL" in message for message in failures)


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/people", {"agency": "riverside", "agency_person_id": "dob-1", "preferred_name": "R",
                 "date_of_birth": "2100-01-01"}, "date_of_birth"),
    ("/people", {"agency": "riverside", "agency_person_id": "dob-2", "preferred_name": "R",
                 "date_of_birth": "1850-01-01"}, "date_of_birth"),
    ("{person}", {"date_of_birth": "2100-01-01"}, "date_of_birth"),
    ("{person}/crisis-contacts", {**CONTACT, "occurred_at": "2026-11-20T16:00:00Z",
                                  "follow_up_due": "9999-12-31T23:59:59Z"}, "follow_up_due"),
    ("{person}/crisis-contacts", {**CONTACT, "occurred_at": "2026-11-20T16:00:00"}, "occurred_at"),
    ("{person}/consents", {"recipient_kind": "care_team", "categories": ["general"],
                           "starts_at": "0001-01-01T00:00:00Z"}, "starts_at"),
    ("{person}/consents", {"recipient_kind": "care_team", "categories": ["general"],
                           "expires_at": "9999-12-31T23:00:00-05:00"}, "expires_at"),
])
async def test_dates_outside_1900_to_2199_are_refused_with_422_naming_the_field(system: System, path, body, field):
    service = await system.start("intake")
    async with client(service, "riverside") as riverside:
        person = await register(riverside, "riverside", "dates-1")
        url = path.replace("{person}", f"/people/{person}")
        response = await (riverside.patch if path == "{person}" else riverside.post)(url, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", field]


async def test_a_revocation_dated_outside_1900_to_2199_is_refused_naming_revoked_at(system: System):
    service = await system.start("intake")
    async with client(service, "riverside") as riverside:
        person = await register(riverside, "riverside", "dates-2")
        granted = await riverside.post(f"/people/{person}/consents",
                                       json={"recipient_kind": "care_team", "categories": ["general"]})
        directive = granted.json()["directive_id"]
        response = await riverside.post(f"/people/{person}/consents/{directive}/revocation",
                                        json={"revoked_at": "9999-12-31T23:59:59+00:00"})
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "revoked_at"]
