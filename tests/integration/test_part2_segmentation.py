"""Substance-use records segmented by program, on real PostgreSQL and RabbitMQ through HTTP: a
member from another program sees that a Part 2 record is withheld (a substance-use screening, a
note a Part 2 program wrote), never what, until the person's consent names their program; and
sees the crisis contact and the suicide-risk flag all along."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.integration.test_event_flow import register
from tests.support.polling import eventually
from tests.support.system import System, bearer
from tests.support.teams import join_team

SUPERVISOR = bearer("supervisor", "sam-supervisor")
COORDINATOR = bearer("care_coordinator", "casey")  # no program given: the treating team, as before
RECOVERY = bearer("clinician", "rita")  # recovery-clinic, a Part 2 program
HOUSING = bearer("care_coordinator", "hana")  # housing-first, another program
AUDIT_C_POSITIVE = {"item1": 3, "item2": 2, "item3": 2}
PHQ9_SUICIDE_RISK = {"item1": 2, "item2": 2, "item3": 1, "item4": 1, "item5": 1, "item6": 1, "item7": 1,
                     "item8": 0, "item9": 1}
NOTE = "Buprenorphine 8 mg: cravings down, wants to keep the dose"


async def test_a_member_from_another_program_sees_withheld_until_consent_names_their_program(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await register(i, "part2-1")
        await join_team(c, person_id, "casey", "care_coordinator", SUPERVISOR)
        await join_team(c, person_id, "rita", "clinician", SUPERVISOR,
                        program_id="recovery-clinic", program_kind="part2")
        joined = await join_team(c, person_id, "hana", "case_manager", SUPERVISOR,
                                 program_id="housing-first", program_kind="other")
        assert joined.status_code == 201, joined.text
        for instrument, answers in (("AUDIT-C", AUDIT_C_POSITIVE), ("PHQ-9", PHQ9_SUICIDE_RISK)):
            response = await i.post(f"/people/{person_id}/screenings", json={"instrument": instrument, "answers": answers})
            assert response.status_code == 201, response.text
        crisis = await i.post(f"/people/{person_id}/crisis-contacts", json={
            "kind": "crisis_line_call", "occurred_at": (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(),
            "location": "home", "responders": ["crisis line"], "outcome": "resolved_in_community"})
        assert crisis.status_code == 201, crisis.text
        note = await c.post(f"/people/{person_id}/medication/notes", headers=RECOVERY, json={
            "note_id": "n-bup", "kind": "person_says", "text": NOTE, "medication": "buprenorphine"})
        assert note.status_code == 201, note.text
        assert note.json()["notes"][0]["part2"] is True
        for goal_id, words, category in (("g-drinking", "Cut down my drinking", "substance_use"),
                                         ("g-housing", "A flat of my own", None)):
            goal = await c.post(f"/people/{person_id}/plan/goals", headers=COORDINATOR, json={
                "goal_id": goal_id, "in_own_words": words, "sharing_category": category})
            assert goal.status_code == 201, goal.text

        async def picture_of(reader: dict[str, str], ready) -> dict | None:  # noqa: ANN001
            response = await c.get(f"/people/{person_id}/picture", headers=reader)
            return response.json() if response.status_code == 200 and ready(response.json()) else None

        await eventually(lambda: picture_of(COORDINATOR, lambda p: len(p["screenings"]) == 2 and p["crisis_contacts"]
                                            and p["medication_notes"] and len(p["goals"]) == 2), what="the whole picture for the coordinator")

        # Hana, from the housing program: withheld, never what; the crisis and the suicide risk all along.
        picture = (await c.get(f"/people/{person_id}/picture", headers=HOUSING)).json()
        assert [(s["instrument"], s["flags"]) for s in picture["screenings"]] == [("PHQ-9", ["suicide_risk"])]
        assert picture["positive_domains"] == ["mental_health"]
        assert [contact["kind"] for contact in picture["crisis_contacts"]] == ["crisis_line_call"]
        assert picture["medication_notes"] == []
        assert {(w["section"], w["count"]) for w in picture["withheld"]} == {("screenings", 1), ("medication_notes", 1),
                                                                     ("goals", 1)}
        assert "AUDIT-C" not in str(picture) and "uprenorphine" not in str(picture)
        fhir = await c.get(f"/people/{person_id}/picture/fhir", headers=HOUSING)
        assert fhir.status_code == 200 and "AUDIT" not in fhir.text and "uprenorphine" not in fhir.text
        assert "PHQ-9" in fhir.text  # the result with its suicide-risk flag is exported

        timeline = (await c.get(f"/people/{person_id}/timeline", headers=HOUSING)).json()["entries"]
        kinds = [entry["kind"] for entry in timeline]
        assert "crisis_contact" in kinds and "urgent_screening_result" in kinds
        assert [e["summary"].split(";")[0] for e in timeline if e["kind"] == "screening_scored"] == ["PHQ-9"]
        assert [e["withheld"] for e in timeline if e["kind"] == "withheld"] == [True]
        assert "AUDIT-C" not in str(timeline)
        medication = (await c.get(f"/people/{person_id}/medication", headers=HOUSING)).json()
        assert (medication["notes"], medication["withheld"]) == ([], 1)
        plan = (await c.get(f"/people/{person_id}/plan", headers=HOUSING)).json()
        assert ([g["goal_id"] for g in plan["goals"]], plan["withheld"]) == (["g-housing"], 1)
        assert "drinking" not in str(plan)

        # Rita's own program, and the coordinator with no program, see everything.
        for reader in (RECOVERY, COORDINATOR):
            whole = (await c.get(f"/people/{person_id}/picture", headers=reader)).json()
            assert {s["instrument"] for s in whole["screenings"]} == {"AUDIT-C", "PHQ-9"} and whole["withheld"] == []
            assert [n["text"] for n in whole["medication_notes"]] == [NOTE]
            plan = (await c.get(f"/people/{person_id}/plan", headers=reader)).json()
            assert (len(plan["goals"]), plan["withheld"]) == (2, 0)

        team = (await c.get(f"/people/{person_id}/team", headers=COORDINATOR)).json()
        assert {(m["member_id"], m["program_id"], m["program_kind"]) for m in team["members"]} == {
            ("casey", None, None), ("rita", "recovery-clinic", "part2"), ("hana", "housing-first", "other")}

        granted = await i.post(f"/people/{person_id}/consents", json={
            "recipient_kind": "program", "recipient_id": "housing-first", "categories": ["substance_use"]})
        assert granted.status_code == 201, granted.text

        consented = await eventually(lambda: picture_of(HOUSING, lambda p: p["withheld"] == []),
                                     what="the consent naming her program to reach careplan")
        assert {s["instrument"] for s in consented["screenings"]} == {"AUDIT-C", "PHQ-9"}
        assert [n["text"] for n in consented["medication_notes"]] == [NOTE]
        timeline = (await c.get(f"/people/{person_id}/timeline", headers=HOUSING)).json()["entries"]
        assert "withheld" not in [entry["kind"] for entry in timeline] and "AUDIT-C" in str(timeline)
        medication = (await c.get(f"/people/{person_id}/medication", headers=HOUSING)).json()
        assert ([n["text"] for n in medication["notes"]], medication["withheld"]) == ([NOTE], 0)
        plan = (await c.get(f"/people/{person_id}/plan", headers=HOUSING)).json()
        assert (sorted(g["goal_id"] for g in plan["goals"]), plan["withheld"]) == (["g-drinking", "g-housing"], 0)


async def test_a_program_is_given_whole_or_the_request_is_refused_naming_the_field(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await register(i, "part2-2")
        refused = await join_team(c, person_id, "hana", "case_manager", SUPERVISOR, program_id="housing-first")
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "program_kind"]
        unknown = await c.post(f"/people/{person_id}/team", headers=SUPERVISOR, json={
            "member_id": "hana", "role": "case_manager", "program_id": "x", "program_kind": "detox"})
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "program_kind"]
        no_program = await i.post(f"/people/{person_id}/consents", json={
            "recipient_kind": "program", "categories": ["substance_use"]})
        assert no_program.status_code == 422, no_program.text


async def test_notifications_keep_substance_use_notices_from_other_programs_but_never_a_crisis(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications")
    async with (system.client(intake, "agency_system") as i, system.client(careplan) as c,
                system.client(notifications) as n):
        person_id = await register(i, "part2-3")
        await join_team(c, person_id, "casey", "care_coordinator", SUPERVISOR)
        await join_team(c, person_id, "hana", "case_manager", SUPERVISOR,
                        program_id="housing-first", program_kind="other")
        for instrument, answers in (("AUDIT-C", AUDIT_C_POSITIVE), ("PHQ-9", PHQ9_SUICIDE_RISK)):
            response = await i.post(f"/people/{person_id}/screenings", json={"instrument": instrument, "answers": answers})
            assert response.status_code == 201, response.text

        async def notices(reader: dict[str, str], ready) -> dict | None:  # noqa: ANN001
            response = await n.get(f"/people/{person_id}/notifications", headers=reader)
            return response.json() if response.status_code == 200 and ready(response.json()) else None

        await eventually(lambda: notices(COORDINATOR, lambda v: {"screening_positive", "crisis"} <= {
            d["kind"] for d in v["due"]} and len([d for d in v["due"] if d["kind"] == "screening_positive"]) == 2),
            what="both positive screenings and the crisis notice for the coordinator")
        seen = await eventually(lambda: notices(HOUSING, lambda v: v["withheld"] == 1),
                                what="hana's program to reach notifications")
        assert "crisis" in [d["kind"] for d in seen["due"]]  # the suicide risk reaches every member
        assert "AUDIT-C" not in str(seen) and "PHQ-9" in str(seen)

        granted = await i.post(f"/people/{person_id}/consents", json={
            "recipient_kind": "program", "recipient_id": "housing-first", "categories": ["substance_use"]})
        assert granted.status_code == 201, granted.text
        consented = await eventually(lambda: notices(HOUSING, lambda v: v["withheld"] == 0),
                                     what="the consent to reach notifications")
        assert "AUDIT-C" in str(consented)
