"""What is stored in PostgreSQL (events, and the integrated pictures built from them) is unreadable without
the key; a rotated key keeps history readable."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from services.intake.bootstrap import IntakeSettings
from services.intake.application import IntakeApplication
from shared.cipher import new_key
from shared.domain import Provenance
from shared.eventstore import ensure_schema
from tests.integration.test_event_flow import _when_len
from tests.support.polling import eventually
from tests.support.system import TEST_AGENCY, System

NAME, RECORD = "Zebulon-Plaintext-Probe", "enc-record-7731"


async def test_no_names_answers_or_notes_are_stored_in_plaintext(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications")
    async with system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c:
        registered = await i.post("/people", json={"agency": TEST_AGENCY, "agency_person_id": RECORD,
                                                   "preferred_name": NAME})
        person_id = registered.json()["person_id"]
        await i.post(f"/people/{person_id}/screenings", json={"instrument": "PHQ-9", "answers": {"item9": 2}})

        async def applied():
            response = await c.get(f"/people/{person_id}/timeline")
            return response.json()["entries"] if response.status_code == 200 else []

        await eventually(lambda: _when_len(applied(), 2), what="events applied downstream")

        async def pictured():
            response = await c.get(f"/people/{person_id}/picture")
            return response.status_code == 200 and response.json()["screenings"]

        await eventually(pictured, what="the screening in the integrated picture")
    del notifications

    async with await psycopg.AsyncConnection.connect(system.isolation.database_url) as conn:
        rows = await (await conn.execute(
            "SELECT state FROM intake.intake_events UNION ALL SELECT state FROM careplan.careplan_events "
            "UNION ALL SELECT state FROM notifications.notifications_events"
        )).fetchall()
        pictures = await (await conn.execute("SELECT document FROM careplan.pictures")).fetchall()
    assert len(rows) >= 6 and len(pictures) == 1
    for needle in (NAME, RECORD, TEST_AGENCY, "PHQ-9", "item9", "suicide_risk", "screening"):
        assert not any(needle.encode() in bytes(state) for (state,) in rows), f"{needle!r} stored in plaintext"
    # The integrated picture holds the name and the results too: stored encrypted as well.
    for needle in (NAME, "PHQ-9", "suicide_risk", "mental_health", "preferred_name", "person_id"):
        assert not any(needle.encode() in bytes(document) for (document,) in pictures), f"{needle!r} in a picture"


def test_after_rotating_the_key_history_is_readable_with_the_retired_key_and_not_without_it(isolation):
    old_key, new_key_ = new_key(), new_key()
    provenance = Provenance("agency-7", "agency_system", "corr-rotate")

    def intake(**keys) -> IntakeApplication:
        settings = IntakeSettings(database_url=isolation.database_url, **keys)
        ensure_schema(settings)
        return IntakeApplication(env=settings.eventsourcing_env())

    before = intake(event_cipher_key=old_key)
    person = before.register_person("north", "rot-1", "Ari", None, provenance)
    before.close()

    after = intake(event_cipher_key=new_key_, event_cipher_retired_keys=old_key)
    after.record_screening(person.person_id, uuid.uuid4(), "GAD-7", {"item1": 2}, provenance)
    assert after.get_person(person.person_id).preferred_name == "Ari"
    after.close()

    without_old = intake(event_cipher_key=new_key_)
    with pytest.raises(ValueError, match="Invalid cipher tag"):
        without_old.get_person(person.person_id)
    without_old.close()
