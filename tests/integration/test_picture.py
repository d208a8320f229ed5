"""The integrated picture on real PostgreSQL and RabbitMQ: built from events as they happen, the
same when rebuilt from zero (also while the projector runs, and by `carecoord rebuild-picture`),
exported as FHIR, and shown only to the person's team."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta, timezone
from uuid import UUID, uuid4

import asyncpg
from fhir.resources.R4B.bundle import Bundle

from services.careplan.application import CareplanApplication
from services.careplan.bootstrap import CareplanSettings
from services.careplan.picture.document import to_document
from services.careplan.picture.projection import PictureProjection, picture_projection
from carecoord import cli
from shared.domain import Provenance
from shared.eventstore import ensure_schema
from shared.runtime import Service
from tests.integration.test_event_flow import register
from tests.support.polling import eventually
from tests.support.system import TEST_CIPHER_KEY, System

PHQ9_POSITIVE = {"item1": 2, "item2": 2, "item3": 2, "item4": 2, "item5": 1, "item6": 1, "item7": 1, "item8": 0,
                 "item9": 0}  # total 11, moderate
AUDIT_C_POSITIVE = {"item1": 3, "item2": 2, "item3": 2}  # total 7
GAD7_NEGATIVE = {"item1": 0, "item2": 1, "item3": 0, "item4": 0, "item5": 0, "item6": 1, "item7": 0}
BY = Provenance("alex-coordinator", "care_coordinator", "corr-picture")


async def change_plan(service: Service, person: UUID, change, today: date | None = None) -> None:  # noqa: ANN001
    application: CareplanApplication = service.application  # type: ignore[assignment]
    await service.run_sync(application.change_plan, person, change, BY, today=today)


def projection_of(service: Service) -> PictureProjection:
    return next(f for f in service.log_tailers if isinstance(f, PictureProjection))


async def picture_when(client, person_id: str, ready, what: str) -> dict:  # noqa: ANN001
    async def probe():
        response = await client.get(f"/people/{person_id}/picture")
        return response.json() if response.status_code == 200 and ready(response.json()) else None

    return await eventually(probe, what=what)


async def intake_history(i, person_id: str, crisis_at: datetime) -> str:  # noqa: ANN001
    for instrument, answers in (("PHQ-9", PHQ9_POSITIVE), ("AUDIT-C", AUDIT_C_POSITIVE)):
        response = await i.post(f"/people/{person_id}/screenings", json={"instrument": instrument, "answers": answers})
        assert response.status_code == 201, response.text
    response = await i.post(f"/people/{person_id}/crisis-contacts", json={
        "kind": "mobile_crisis_visit", "occurred_at": crisis_at.isoformat(), "location": "home",
        "responders": ["mobile crisis team"], "outcome": "resolved_in_community"})
    assert response.status_code == 201, response.text
    return response.json()["contact_id"]


async def test_intake_and_plan_changes_show_in_the_picture_as_they_happen(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    application: CareplanApplication = careplan.application  # type: ignore[assignment]
    crisis_at = datetime.now(timezone.utc) - timedelta(hours=2)
    async with system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c:
        person_id = await register(i, "picture-1")
        contact_id = await intake_history(i, person_id, crisis_at)
        picture = await picture_when(c, person_id, lambda p: p["crisis_contacts"] and len(p["screenings"]) == 2,
                                     "screenings and the crisis contact in the picture")
        assert picture["preferred_name"] == "Sam"
        assert [(s["instrument"], s["total"], s["positive"]) for s in picture["screenings"]] == [
            ("PHQ-9", 11, True), ("AUDIT-C", 7, True)]
        assert picture["co_occurring_needs"] is True
        assert picture["positive_domains"] == ["mental_health", "substance_use"]
        (contact,) = picture["crisis_contacts"]
        assert (contact["contact_id"], contact["follow_up_status"]) == (contact_id, "due")
        assert picture["plan"] is None and picture["next_review"] is None

        # The team and the plan, written through the application (as the plan's HTTP API will).
        person = UUID(person_id)
        await careplan.run_sync(application.add_team_member, person, "alex-coordinator", "care_coordinator", BY)
        # Started on the day of the screenings (as intake dates them), whatever the local zone.
        screened_on = date.fromisoformat(picture["screenings"][0]["scored_at"][:10])
        await change_plan(careplan, person, lambda plan: plan.set_goal(
            "g1", "Keep my apartment", "Housing stability", "housing", ["rent paid on time"], BY), today=screened_on)
        await change_plan(careplan, person, lambda plan: plan.add_support(
            "s1", "peer_support", "Weekly recovery group", "Peer center", BY))
        await change_plan(careplan, person, lambda plan: plan.record_crisis_follow_up(
            contact_id, date.today(), "called the next morning", BY))
        await careplan.run_sync(application.add_medication_note, person, "n1", "person_says",
                                "The new pills make me sleepy", "quetiapine", None, "peer_specialist", BY)
        await careplan.run_sync(application.revise_safety_plan, person, {"warning_signs": ["not sleeping"]}, 0,
                                datetime.now(timezone.utc), BY)
        picture = await picture_when(c, person_id, lambda p: p["safety_plan"] and p["safety_plan"]["version"] == 1,
                                     "the plan's changes in the picture")
        assert picture["team"] == [{"member_id": "alex-coordinator", "role": "care_coordinator"}]
        assert [g["in_own_words"] for g in picture["goals"]] == ["Keep my apartment"]
        assert [s["description"] for s in picture["supports"]] == ["Weekly recovery group"]
        assert picture["crisis_contacts"][0]["follow_up_status"] == "followed_up"
        assert picture["medication_notes"][0]["text"] == "The new pills make me sleepy"
        assert picture["safety_plan"]["needs_review"] is False
        # The positive screenings (on the day the plan started) prompt a review at once.
        assert picture["next_review"]["due_on"] == picture["plan"]["started_on"] == screened_on.isoformat()
        assert any(reason.startswith("positive_screening:") for reason in picture["next_review"]["prompted_by"])

        # A newer negative mental-health result: one positive domain is left.
        response = await i.post(f"/people/{person_id}/screenings", json={"instrument": "GAD-7", "answers": GAD7_NEGATIVE})
        assert response.status_code == 201, response.text
        picture = await picture_when(c, person_id, lambda p: p["screenings"][0]["instrument"] == "GAD-7",
                                     "the newer result")
        assert picture["co_occurring_needs"] is False


async def test_the_picture_rebuilt_from_zero_equals_the_live_one_even_while_the_projector_runs(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    application: CareplanApplication = careplan.application  # type: ignore[assignment]
    projection = projection_of(careplan)
    async with system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c:
        people = [await register(i, f"rebuild-{n}") for n in range(3)]
        for n, person_id in enumerate(people):
            await intake_history(i, person_id, datetime(2026, 1, 10 + n, 9, tzinfo=timezone.utc))
            person = UUID(person_id)
            await careplan.run_sync(application.add_team_member, person, f"member-{n}", "clinician", BY)
            for g in range(n + 1):
                await change_plan(careplan, person, lambda plan, g=g: plan.set_goal(
                    f"g{g}", f"Goal {g} in my words", None, None, [], BY))
            for k in range(12):
                await careplan.run_sync(application.add_medication_note, person, f"n{k}", "effects_noticed",
                                        f"note {k}", None, None, "clinician", BY)
        for person_id in people:
            await picture_when(c, person_id, lambda p: p["crisis_contacts"] and len(p["medication_notes"]) == 10,
                               "the whole history in the picture")
        await projection.catch_up()  # alongside the service's own loop: the position's compare-and-set keeps it safe
        live = {person_id: (await c.get(f"/people/{person_id}/picture")).json() for person_id in people}
        stored_live = await projection.store.all()

        replayed = await projection.rebuild()
        assert replayed > 0
        assert await projection.store.all() == stored_live
        assert {person_id: (await c.get(f"/people/{person_id}/picture")).json() for person_id in people} == live

        # Events recorded while a rebuild runs are applied once, after it.
        rebuild = asyncio.create_task(projection.rebuild())
        await careplan.run_sync(application.add_medication_note, UUID(people[0]), "during", "help_given",
                                "A ride to the pharmacy", None, None, "case_manager", BY)
        await rebuild
        picture = await picture_when(c, people[0], lambda p: p["medication_notes"][-1]["note_id"] == "during",
                                     "the note recorded during the rebuild")
        assert [n["note_id"] for n in picture["medication_notes"]].count("during") == 1
        await projection.catch_up()  # alongside the service's own loop: the position's compare-and-set keeps it safe
        after_live = await projection.store.all()
        await projection.rebuild()
        assert await projection.store.all() == after_live


async def test_two_projectors_never_apply_a_batch_twice(system: System):
    careplan = await system.start("careplan", run_relay=False)
    application: CareplanApplication = careplan.application  # type: ignore[assignment]
    person = uuid4()
    for k in range(40):
        await careplan.run_sync(application.add_team_member, person, f"member-{k}", "clinician", BY)
    for k in range(40):
        await careplan.run_sync(application.remove_team_member, person, f"member-{k}", BY)
    await careplan.run_sync(application.add_team_member, person, "last", "clinician", BY)
    # A second replica's projector, reading in small batches, races the service's own.
    settings = careplan.settings
    replica = picture_projection(application, settings.database_url, settings.schema_name, careplan.run_sync, batch_size=3)
    try:
        await asyncio.gather(replica.catch_up(), projection_of(careplan).catch_up(), replica.catch_up())
        picture = (await replica.store.all())[str(person)]
        assert picture.team == {"last": "clinician"}
        last = await careplan.run_sync(application.recorder.max_notification_id)
        assert await replica.store.position() == last
        await projection_of(careplan).rebuild()
        assert (await replica.store.all())[str(person)] == picture
    finally:
        await replica.close()


async def test_fhir_export_validates_and_outsiders_are_told_not_found(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    application: CareplanApplication = careplan.application  # type: ignore[assignment]
    async with (system.client(intake, "agency_system") as i,
                system.client(careplan, "clinician", "kim-on-team") as member,
                system.client(careplan, "clinician", "lee-elsewhere") as outsider):
        person_id = await register(i, "fhir-1")
        await intake_history(i, person_id, datetime(2026, 2, 1, 9, tzinfo=timezone.utc))
        await careplan.run_sync(application.add_team_member, UUID(person_id), "kim-on-team", "clinician", BY)
        await change_plan(careplan, UUID(person_id), lambda plan: plan.set_goal(
            "g1", "Get my license back", None, "transportation", [], BY))
        await picture_when(member, person_id, lambda p: p["goals"] and len(p["screenings"]) == 2, "the goal")

        response = await member.get(f"/people/{person_id}/picture/fhir")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/fhir+json"
        bundle = Bundle.model_validate(response.json())
        kinds = sorted(entry.resource.get_resource_type() for entry in bundle.entry)
        assert kinds == ["CarePlan", "CareTeam", "Goal", "Observation", "Observation"]
        codes = {entry.resource.code.coding[0].code for entry in bundle.entry
                 if entry.resource.get_resource_type() == "Observation"}
        assert codes == {"44261-6", "75626-2"}
        assert {entry.resource.subject.reference for entry in bundle.entry} == {f"Patient/{person_id}"}

        for path in ("picture", "picture/fhir"):
            refused = await outsider.get(f"/people/{person_id}/{path}")
            assert (refused.status_code, refused.json()) == (404, {"detail": "not found"})
            unknown = await member.get(f"/people/{uuid4()}/{path}")
            assert unknown.status_code == 404
    async with system.client(careplan, "agency_system") as agency:
        assert (await agency.get(f"/people/{person_id}/picture")).status_code == 403


def test_carecoord_rebuild_picture_replays_the_log_with_a_progress_bar(isolation, monkeypatch, capsys):
    settings = CareplanSettings(database_url=isolation.database_url, event_cipher_key=TEST_CIPHER_KEY)
    ensure_schema(settings)
    application = CareplanApplication(env=settings.eventsourcing_env())
    people = [uuid4() for _ in range(3)]
    for n, person in enumerate(people):
        application.add_team_member(person, f"member-{n}", "peer_specialist", BY)
        application.add_medication_note(person, "n1", "question_for_prescriber", "Could I take it at night?", None,
                                        None, "peer_specialist", BY)
    last = application.recorder.max_notification_id()
    application.close()
    monkeypatch.setenv("DATABASE_URL", isolation.database_url)
    monkeypatch.setenv("EVENT_CIPHER_KEY", TEST_CIPHER_KEY)

    assert cli.main(["rebuild-picture"]) == 0
    out, err = capsys.readouterr()
    assert f"from {last} events" in out
    assert "rebuilding pictures" in err and f"{last}/{last}" in err

    async def stored() -> dict[str, dict]:
        connection = await asyncpg.connect(isolation.database_url)
        try:
            position = await connection.fetchval("SELECT position FROM careplan.picture_position")
            count = await connection.fetchval("SELECT count(*) FROM careplan.pictures")
        finally:
            await connection.close()
        reader = CareplanApplication(env=settings.eventsourcing_env())
        check = picture_projection(reader, isolation.database_url, "careplan", asyncio.to_thread)
        try:
            pictures = await check.store.all()
        finally:
            await check.close()
            reader.close()
        assert (position, count) == (last, 3)
        return {person_id: to_document(picture) for person_id, picture in pictures.items()}

    pictures = asyncio.run(stored())
    assert {json.dumps(p["team"]) for p in pictures.values()} == {
        json.dumps({f"member-{n}": "peer_specialist"}) for n in range(3)}
    assert all(p["medication_notes"][0]["for_prescriber"] for p in pictures.values())
