"""What a careless or hostile client sends to the care plan is refused at the edge (422 naming the
field), and nothing it could send leaves a plan that can no longer be read: the plan, the picture
and its FHIR export keep answering 200."""

from __future__ import annotations

from tests.integration.test_care_plan_http import CLINICIAN, COORDINATOR, PEER, PRESCRIBER, person_with_team
from tests.support.polling import eventually
from tests.support.system import System


def refused_field(response) -> str:  # noqa: ANN001
    assert response.status_code == 422, (response.status_code, response.text[:300])
    return response.json()["detail"][0]["loc"][-1]


async def test_a_review_date_past_the_bounds_answers_422_and_the_plan_stays_readable(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await person_with_team(i, c, "bounds-1")
        plan = f"/people/{person_id}/plan"
        created = await c.post(f"{plan}/goals", headers=COORDINATOR,
                               json={"goal_id": "g1", "in_own_words": "Sleep through the night", "indicators": ["hours"]})
        assert created.status_code == 201, created.text

        far_dates = [
            (f"{plan}/reviews", CLINICIAN, {"reviewed_on": "9999-12-31", "what_changed": "x", "why": "y"}),
            (f"{plan}/reviews", CLINICIAN, {"reviewed_on": "0001-01-01", "what_changed": "x", "why": "y"}),
            (f"{plan}/goals/g1/indicator-values", CLINICIAN, {"indicator": "hours", "value": 7,
                                                              "recorded_on": "9999-12-31"}),
            (f"{plan}/setbacks", COORDINATOR, {"occurred_on": "0001-01-01", "in_own_words": "A bad week"}),
            (f"{plan}/crisis-follow-ups", PEER, {"contact_id": "c-1", "followed_up_on": "9999-12-31"}),
        ]
        for path, caller, body in far_dates:
            field = next(name for name in body if name.endswith("_on"))
            assert refused_field(await c.post(path, headers=caller, json=body)) == field, path

        shown = await c.get(plan, headers=PEER)
        assert shown.status_code == 200 and shown.json()["reviews"] == []
        again = await c.post(f"{plan}/reviews", headers=CLINICIAN, json={"what_changed": "x", "why": "y"})
        assert again.status_code == 201, again.text

        async def exported():
            response = await c.get(f"/people/{person_id}/picture/fhir", headers=PEER)
            return response if response.status_code == 200 and "Next review due" in response.text else None

        await eventually(exported, what="the reviewed plan in the FHIR export")  # the picture lags by a batch


async def test_ids_and_indicators_are_refused_empty_or_with_control_characters_and_numbers_must_be_finite(
        system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan) as c:
        person_id = await person_with_team(i, c, "ids-1")
        plan, medication = f"/people/{person_id}/plan", f"/people/{person_id}/medication"
        goal = {"in_own_words": "Get back to work"}
        refusals = [
            (f"{plan}/goals", COORDINATOR, {**goal, "goal_id": ""}, "goal_id"),
            (f"{plan}/goals", COORDINATOR, {**goal, "goal_id": "g\x00"}, "goal_id"),
            (f"{plan}/goals", COORDINATOR, {**goal, "indicators": [""]}, 0),
            (f"{plan}/goals", COORDINATOR, {**goal, "indicators": ["days\nworked"]}, 0),
            (f"{plan}/supports", COORDINATOR, {"support_id": "s\x1b[31m", "life_domain": "housing",
                                               "description": "Rent help", "provided_by": "County"}, "support_id"),
            (f"{plan}/setbacks", COORDINATOR, {"setback_id": "", "occurred_on": "2026-01-01",
                                               "in_own_words": "x"}, "setback_id"),
            (f"{plan}/setbacks", COORDINATOR, {"occurred_on": "2026-01-01", "in_own_words": "x",
                                               "goal_ids": ["g\r"]}, 0),
            (f"{plan}/reviews", CLINICIAN, {"review_id": "r\x7f", "what_changed": "x", "why": "y"}, "review_id"),
            (f"{plan}/crisis-follow-ups", PEER, {"contact_id": "c\x00"}, "contact_id"),
            (f"{medication}/notes", PEER, {"note_id": "", "kind": "help_given", "text": "Pill box"}, "note_id"),
            (f"{medication}/decisions", PRESCRIBER, {"decision_id": "d\n", "decision": "stop", "medication": "x",
                                                     "rationale": "y", "discussed_with_person": True}, "decision_id"),
        ]
        for path, caller, body, field in refusals:
            assert refused_field(await c.post(path, headers=caller, json=body)) == field, (path, body)

        created = await c.post(f"{plan}/goals", headers=COORDINATOR,
                               json={**goal, "goal_id": "g1", "indicators": ["days worked"]})
        assert created.status_code == 201, created.text
        in_path = await c.post(f"{plan}/goals/g1%0A/status", headers=COORDINATOR, json={"status": "achieved"})
        assert in_path.status_code == 422 and in_path.json()["detail"][0]["loc"] == ["path", "goal_id"]
        values = f"{plan}/goals/g1/indicator-values"
        for raw in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
            body = b'{"indicator": "days worked", "value": ' + raw + b"}"
            response = await c.post(values, headers={**CLINICIAN, "content-type": "application/json"}, content=body)
            assert refused_field(response) == "value", raw
        assert refused_field(await c.post(values, headers=CLINICIAN,
                                          json={"indicator": "days\x00worked", "value": 1})) == "indicator"
        assert (await c.post(values, headers=CLINICIAN, json={"indicator": "days worked", "value": 3})).status_code == 201

        async def exported():
            response = await c.get(f"/people/{person_id}/picture/fhir", headers=PEER)
            return response if response.status_code == 200 and "days worked" in response.text else None

        assert (await eventually(exported, what="the goal in the FHIR export")).status_code == 200
        assert (await c.get(plan, headers=PEER)).json()["goals"][0]["values"][0]["value"] == 3
