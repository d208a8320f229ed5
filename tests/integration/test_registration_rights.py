"""Only an agency's own system (or its staff, where the agency allows it) registers that agency's records."""

from __future__ import annotations

import json

from shared.messaging import REASON_HEADER
from tests.integration.test_agency_commands_amqp import send
from tests.support.system import System, bearer, token


def registration(agency: str, record: str, name: str) -> dict:
    return {"agency": agency, "agency_person_id": record, "preferred_name": name}


async def test_staff_cannot_register_another_agencys_records_nor_learn_whether_they_exist(system: System):
    service = await system.start("intake")
    riverside = bearer("agency_system", agency="riverside")
    coordinator = bearer("care_coordinator", "coordinator-on-no-team")
    async with system.client(service) as intake:
        existing = await intake.post("/people", headers=riverside, json=registration("riverside", "R-1", "Jordan"))
        assert existing.status_code == 201

        known = await intake.post("/people", headers=coordinator, json=registration("riverside", "R-1", "Whoever"))
        unknown = await intake.post("/people", headers=coordinator, json=registration("riverside", "R-2", "False Name"))
        assert (known.status_code, unknown.status_code) == (403, 403)
        assert known.json() == unknown.json(), "the same answer whether the record exists or not"
        assert existing.json()["person_id"] not in known.text

        own = await intake.post("/people", headers=riverside, json=registration("riverside", "R-2", "Ari"))
        assert own.status_code == 201, "nobody pre-registered the agency's record"
        record = await intake.get(f"/people/{own.json()['person_id']}", headers=riverside)
        assert record.json()["preferred_name"] == "Ari"


async def test_staff_register_for_their_own_agency_only_when_it_allows_them(system: System):
    service = await system.start("intake", staff_registration_agencies=("riverside",))
    async with system.client(service) as intake:
        async def status(role: str, agency_claim: str | None, agency: str, record: str) -> int:
            claims = {"agency": agency_claim} if agency_claim else {}
            response = await intake.post("/people", headers=bearer(role, f"{role}-1", **claims),
                                         json=registration(agency, record, "Sam"))
            return response.status_code

        assert await status("care_coordinator", "riverside", "riverside", "S-1") == 201
        assert await status("supervisor", "riverside", "riverside", "S-2") == 201
        assert await status("care_coordinator", "riverside", "hillside", "S-3") == 403, "not their agency"
        assert await status("care_coordinator", None, "riverside", "S-4") == 403, "no agency named"
        assert await status("care_coordinator", "hillside", "hillside", "S-5") == 403, "hillside does not allow it"
        assert await status("clinician", "riverside", "riverside", "S-6") == 403, "not a registering role"


async def test_staff_registration_over_amqp_is_dead_lettered_with_the_reason(system: System):
    await system.start_connected("intake")
    staff = {"authorization": f"Bearer {token('supervisor', 'supervisor-1')}"}
    await send(system, {"command": "register_person", **registration("riverside", "Q-1", "Noor")}, staff)
    [dead] = await system.collect("intake.commands", 1, what="the staff registration, dead-lettered")
    assert "refused (403)" in dead.headers[REASON_HEADER]
    assert json.loads(dead.body)["agency_person_id"] == "Q-1"
