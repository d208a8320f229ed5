"""The care plan over HTTP on real PostgreSQL and RabbitMQ: the person's words, reviews prompted by
intake, medication collaboration within scope of practice, and the versioned safety plan."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from tests.integration.test_event_flow import PHQ9_WITH_SUICIDE_RISK, register
from tests.support.polling import eventually
from tests.support.system import System, bearer
from tests.support.teams import join_team

COORDINATOR = bearer("care_coordinator", "casey-coordinator")
CLINICIAN = bearer("clinician", "kim-clinician")
PRESCRIBER = bearer("prescriber", "dr-ngozi")
PEER = bearer("peer_specialist", "pat-peer")
NURSE_PRACTITIONER = bearer("clinician", "np-lee")  # a clinician's login; on this team as nurse practitioner


async def person_with_team(i, c, agency_person_id: str) -> str:
    person_id = await register(i, agency_person_id)
    supervisor = bearer("supervisor", "sam-supervisor")
    for member, role in (("casey-coordinator", "care_coordinator"), ("kim-clinician", "clinician"),
                         ("dr-ngozi", "prescriber"), ("pat-peer", "peer_specialist"), ("np-lee", "nurse_practitioner")):
        response = await join_team(c, person_id, member, role, supervisor)
        assert response.status_code == 201, response.text
    return person_id


async def test_the_plan_keeps_the_persons_words_setbacks_and_agreement(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await person_with_team(i, c, "plan-1")
        plan = f"/people/{person_id}/plan"
        assert (await c.get(plan, headers=CLINICIAN)).status_code == 404  # no plan yet

        goal = {"goal_id": "g-housing", "in_own_words": "I want my own place where my kids can visit",
                "team_restatement": "Secure stable housing", "life_domain": "housing",
                "indicators": ["nights housed this month"]}
        created = await c.post(f"{plan}/goals", headers=COORDINATOR, json=goal)
        assert created.status_code == 201, created.text
        again = await c.post(f"{plan}/goals", headers=COORDINATOR, json=goal)
        assert again.status_code == 200 and len(again.json()["goals"]) == 1  # a retry records nothing new

        person = bearer("person", "person-self", person_id=person_id)
        steps = [
            (f"{plan}/goals/g-housing/indicator-values", CLINICIAN,
             {"indicator": "nights housed this month", "value": 14, "recorded_on": "2026-02-01"}),
            (f"{plan}/supports", COORDINATOR, {"support_id": "s-1", "life_domain": "harm_reduction",
                                              "description": "Naloxone kit and training", "provided_by": "Syringe services program"}),
            (f"{plan}/setbacks", person, {"occurred_on": "2026-02-10", "in_own_words": "I lost the apartment lead and used again",
                                          "what_helped": "Pat came with me to the meeting", "goal_ids": ["g-housing"]}),
            (f"{plan}/agreement", person, {"agrees": False, "reason": "I don't want group therapy in the plan"}),
        ]
        for path, caller, body in steps:
            response = await c.post(path, headers=caller, json=body)
            assert response.status_code == 201, (path, response.text)

        shown = (await c.get(plan, headers=PEER)).json()
        assert shown["goals"][0]["in_own_words"] == "I want my own place where my kids can visit"
        assert shown["goals"][0]["status"] == "active"  # the setback closed nothing
        assert [v["value"] for v in shown["goals"][0]["values"]] == [14]
        assert shown["setbacks"][0]["in_own_words"] == "I lost the apartment lead and used again"
        assert shown["agreement"] == {"agrees": False, "given_by": "person",
                                      "reason": "I don't want group therapy in the plan", "current": True}
        assert shown["supports"][0]["provided_by"] == "Syringe services program"

        refused = await c.post(f"{plan}/agreement", headers=person, json={"agrees": False})
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "reason"]
        unknown = await c.post(f"{plan}/goals", headers=COORDINATOR, json={"in_own_words": "x", "life_domain": "astrology"})
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"][-1] == "life_domain"
        no_goal = await c.post(f"{plan}/goals/nope/status", headers=COORDINATOR, json={"status": "achieved"})
        assert no_goal.status_code == 422 and no_goal.json()["detail"][0]["loc"] == ["body", "goal_id"]
        assert (await c.post(f"{plan}/reviews", headers=person, json={"what_changed": "x", "why": "y"})).status_code == 403


async def test_a_positive_screening_and_a_crisis_make_a_review_due_and_mark_the_safety_plan(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await person_with_team(i, c, "plan-2")
        plan, safety = f"/people/{person_id}/plan", f"/people/{person_id}/safety-plan"
        await c.post(f"{plan}/goals", headers=COORDINATOR, json={"in_own_words": "Sleep better"})
        assert (await c.get(plan, headers=CLINICIAN)).json()["next_review"]["prompted_by"] == ["scheduled"]

        written = await c.put(safety, headers=CLINICIAN, json={"based_on_version": 0, "sections": {
            "warning_signs": ["I stop answering my phone"], "reasons_for_living": ["My dog, Biscuit"]}})
        assert written.status_code == 201, written.text
        assert (written.json()["version"], written.json()["needs_review"]) == (1, False)

        screening = await i.post(f"/people/{person_id}/screenings",
                                 json={"instrument": "PHQ-9", "answers": PHQ9_WITH_SUICIDE_RISK})
        assert screening.status_code == 201
        crisis = await i.post(f"/people/{person_id}/crisis-contacts", json={
            "kind": "mobile_crisis_visit", "occurred_at": datetime.now(timezone.utc).isoformat(), "location": "Home",
            "responders": ["mobile crisis team"], "what_helped": "Talking on the porch", "outcome": "resolved_in_community"})
        assert crisis.status_code == 201, crisis.text
        contact_id = crisis.json()["contact_id"]

        async def prompted():
            shown = (await c.get(plan, headers=CLINICIAN)).json()["next_review"]
            return shown if len(shown["prompted_by"]) == 2 else None

        due = await eventually(prompted, what="the review prompted by the screening and the crisis")
        assert due["due_on"] == date.today().isoformat()
        assert due["prompted_by"][1] == f"crisis_contact:{contact_id}"
        assert due["prompted_by"][0].startswith("positive_screening:")
        assert (await c.get(safety, headers=PEER)).json()["needs_review"] is True

        reviewed = await c.post(f"{plan}/reviews", headers=CLINICIAN,
                                json={"what_changed": "Added nightly check-ins", "why": "Crisis visit on the 3rd"})
        assert reviewed.status_code == 201
        body = reviewed.json()
        assert body["reviews"][0]["prompted_by"] == due["prompted_by"]
        assert body["next_review"] == {"due_on": (date.today() + timedelta(days=90)).isoformat(),
                                       "prompted_by": ["scheduled"]}

        followed = await c.post(f"{plan}/crisis-follow-ups", headers=PEER, json={"contact_id": contact_id})
        assert followed.status_code == 201
        unknown = await c.post(f"{plan}/crisis-follow-ups", headers=PEER, json={"contact_id": "no-such-contact"})
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "contact_id"]

        stale = await c.put(safety, headers=CLINICIAN, json={"based_on_version": 0, "sections": {"warning_signs": ["x"]}})
        assert stale.status_code == 409
        revised = await c.put(safety, headers=bearer("person", "self", person_id=person_id), json={
            "based_on_version": 1, "sections": {"warning_signs": ["I stop answering my phone", "I stop eating"],
                                                "reasons_for_living": ["My dog, Biscuit"]}})
        assert (revised.json()["version"], revised.json()["needs_review"]) == (2, False)
        first = await c.get(safety, headers=PEER, params={"version": 1})
        assert first.json()["sections"]["warning_signs"] == ["I stop answering my phone"]


async def test_only_prescribing_roles_record_decisions_and_the_persons_choice_reaches_the_prescriber(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications")
    async with (system.client(intake, "agency_system") as i, system.client(careplan) as c,
                system.client(notifications, "auditor") as n):
        person_id = await person_with_team(i, c, "med-1")
        medication = f"/people/{person_id}/medication"
        decision = {"decision": "start", "medication": "sertraline", "dose": "25 mg daily",
                    "rationale": "We talked through options; they chose to try it", "discussed_with_person": True}

        for caller in (CLINICIAN, COORDINATOR, PEER):
            refused = await c.post(f"{medication}/decisions", headers=caller, json=decision)
            assert refused.status_code == 403, refused.text
            assert "cannot record prescribing decisions" in refused.json()["detail"]
        assert (await c.get(medication, headers=PEER)).status_code == 404  # nothing was recorded, not even a record

        recorded = await c.post(f"{medication}/decisions", headers=PRESCRIBER, json=decision)
        assert recorded.status_code == 201, recorded.text
        by_np = await c.post(f"{medication}/decisions", headers=NURSE_PRACTITIONER,
                             json={**decision, "decision": "dose", "dose": "50 mg daily"})
        assert by_np.status_code == 201, by_np.text
        assert [d["prescriber_role"] for d in by_np.json()["decisions"]] == ["prescriber", "nurse_practitioner"]

        person = bearer("person", "self", person_id=person_id)
        choice = await c.post(f"{medication}/notes", headers=person, json={
            "kind": "person_choice", "choice": "chooses_to_stop", "medication": "sertraline",
            "text": "I want to stop. I feel flat and can't cry at my dad's memorial."})
        assert choice.status_code == 201, choice.text
        help_given = await c.post(f"{medication}/notes", headers=PEER, json={
            "kind": "help_given", "text": "Set up a weekly pill organizer together"})
        assert help_given.status_code == 201
        coercive = await c.post(f"{medication}/notes", headers=CLINICIAN, json={
            "kind": "withhold_services", "text": "No housing voucher unless they take it"})
        assert coercive.status_code == 422 and coercive.json()["detail"][0]["loc"] == ["body", "kind"]

        record = (await c.get(medication, headers=PRESCRIBER)).json()
        assert [(n["kind"], n["author_role"]) for n in record["notes"]] == [
            ("person_choice", "person"), ("help_given", "peer_specialist")]
        assert len(record["decisions"]) == 2  # the three refusals left no decision

        async def for_prescribers():
            r = await n.get(f"/people/{person_id}/notifications")
            due = r.json()["due"] if r.status_code == 200 else []
            return [d for d in due if d["audience"] == "prescribers"] or None

        notices = await eventually(for_prescribers, what="the person's choice to reach the prescriber")
        assert [d["kind"] for d in notices] == ["medication_note_for_prescriber"]
        assert "made a choice about their medication" in notices[0]["message"]
        assert "flat" not in notices[0]["message"]  # the note's words stay in careplan


async def test_hostile_input_to_the_care_plan_gets_a_4xx_and_never_a_500(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await person_with_team(i, c, "hostile-1")
        goals = f"/people/{person_id}/plan/goals"
        headers = {**COORDINATOR, "content-type": "application/json"}
        cases = {
            "oversized body": (b'{"in_own_words": "' + b"x" * 200_000 + b'"}', 413),
            "deeply nested JSON": (b"[" * 30_000 + b"]" * 30_000, 400),
            "invalid UTF-8": (b'{"in_own_words": "\xff\xfe"}', 400),
            "not JSON": (b"in_own_words=hello", 422),
            "unknown field": (b'{"in_own_words": "x", "is_admin": true}', 422),
        }
        for name, (body, want) in cases.items():
            response = await c.post(goals, content=body, headers=headers)
            assert response.status_code == want, f"{name}: {response.status_code} {response.text[:200]}"

        words = "I want \u0000 my'); DROP TABLE careplan.careplan_events; -- life back <script>alert(1)</script>"
        stored = await c.post(goals, headers=COORDINATOR, json={"goal_id": "g-odd", "in_own_words": words})
        assert stored.status_code == 201, stored.text
        assert (await c.get(f"/people/{person_id}/plan", headers=PEER)).json()["goals"][0]["in_own_words"] == words

        async def pictured():
            response = await c.get(f"/people/{person_id}/picture", headers=PEER)
            goals = response.json()["goals"] if response.status_code == 200 else []
            return goals or None

        assert (await eventually(pictured, what="the goal in the picture"))[0]["in_own_words"] == words
        oversized_safety_plan = {"based_on_version": 0, "sections": {"warning_signs": ["x" * 5000] * 20}}
        assert (await c.put(f"/people/{person_id}/safety-plan", headers=PEER,
                            json=oversized_safety_plan)).status_code == 413
