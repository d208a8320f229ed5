"""A person's record as it was at a moment (`GET /audit/people/{id}/as-of`, `carecoord audit as-of`):
rebuilt from careplan's events up to that moment, it equals what the live endpoints answered then,
and as of now it equals what they answer now."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import httpx

from carecoord import cli
from tests.integration.test_event_flow import register
from tests.integration.test_picture import PHQ9_POSITIVE, AUDIT_C_POSITIVE
from tests.support.polling import eventually
from tests.support.system import TEST_CIPHER_KEY, System, bearer
from tests.support.teams import join_team

SUPERVISOR = bearer("supervisor", "sup-as-of")
COORDINATOR = bearer("care_coordinator", "coord-as-of")
AUNT = bearer("support_person", "aunt-as-of")
LIVE = {"care_team": "team", "care_plan": "plan", "safety_plan": "safety-plan", "picture": "picture"}


async def live(careplan: httpx.AsyncClient, person_id: str) -> dict:
    """What the live endpoints answer now, under the as-of answer's names (None for a 404)."""
    answers = {}
    for part, path in LIVE.items():
        response = await careplan.get(f"/people/{person_id}/{path}")
        assert response.status_code in (200, 404), response.text
        answers[part] = response.json() if response.status_code == 200 else None
    return answers


async def as_of(careplan: httpx.AsyncClient, person_id: str, at: datetime) -> dict:
    response = await careplan.get(f"/audit/people/{person_id}/as-of", params={"at": at.isoformat()})
    assert response.status_code == 200, response.text
    return response.json()


async def settled(careplan: httpx.AsyncClient, person_id: str, ready, what: str) -> None:
    """Wait until careplan's picture (projected asynchronously) shows `ready`: every event before
    it is in careplan's store then, so nothing recorded before a capture lands after it."""
    async def probe():
        picture = await careplan.get(f"/people/{person_id}/picture")
        return picture.status_code == 200 and bool(ready(picture.json()))

    await eventually(probe, what=what)


async def test_the_record_as_of_a_moment_equals_what_the_live_endpoints_answered_then(system: System, monkeypatch,
                                                                                    capsys):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    async with system.client(intake, "agency_system") as i, system.client(careplan, "auditor") as c:
        before_anything = datetime.now(timezone.utc)
        person_id = await register(i, "as-of-1")
        assert (await i.post(f"/people/{person_id}/screenings",
                             json={"instrument": "PHQ-9", "answers": PHQ9_POSITIVE})).status_code == 201
        assert (await i.post(f"/people/{person_id}/crisis-contacts", json={
            "kind": "mobile_crisis_visit", "occurred_at": (before_anything - timedelta(hours=2)).isoformat(),
            "location": "home", "responders": ["mobile crisis team"],
            "outcome": "resolved_in_community"})).status_code == 201
        consent = await i.post(f"/people/{person_id}/consents", json={
            "recipient_kind": "named_person", "recipient_id": "aunt-as-of", "categories": ["general"]})
        assert consent.status_code == 201, consent.text
        directive_id = consent.json()["directive_id"]
        assert (await join_team(c, person_id, "coord-as-of", "care_coordinator", SUPERVISOR)).status_code == 201
        goal = await c.post(f"/people/{person_id}/plan/goals", headers=COORDINATOR, json={
            "goal_id": "home", "in_own_words": "Feel at home again", "indicators": ["good days"]})
        assert goal.status_code == 201, goal.text
        written = await c.put(f"/people/{person_id}/safety-plan", headers=COORDINATOR, json={
            "based_on_version": 0, "sections": {"reasons_for_living": ["my dog"]}})
        assert written.status_code == 201, written.text
        await eventually(lambda: _shared_status(c, person_id, 200), what="the consent to reach careplan")
        await settled(c, person_id, lambda p: p["goals"] and p["safety_plan"] and p["crisis_contacts"]
                      and p["team"], "the first changes in the picture")

        then = await live(c, person_id)
        moment = datetime.now(timezone.utc)

        # More happens after the moment: every part changes.
        assert (await i.post(f"/people/{person_id}/screenings",
                             json={"instrument": "AUDIT-C", "answers": AUDIT_C_POSITIVE})).status_code == 201
        assert (await c.post(f"/people/{person_id}/team", headers=SUPERVISOR,
                             json={"member_id": "peer-as-of", "role": "peer_specialist"})).status_code == 201
        assert (await c.post(f"/people/{person_id}/plan/goals/home/status", headers=COORDINATOR,
                             json={"status": "achieved"})).status_code == 200
        assert (await c.post(f"/people/{person_id}/plan/supports", headers=COORDINATOR, json={
            "support_id": "bus", "life_domain": "transportation", "description": "Bus pass",
            "provided_by": "County transit"})).status_code == 201
        assert (await c.put(f"/people/{person_id}/safety-plan", headers=COORDINATOR, json={
            "based_on_version": 1, "sections": {"reasons_for_living": ["my dog", "my sister"]}})).status_code == 201
        assert (await c.post(f"/people/{person_id}/medication/notes", headers=COORDINATOR, json={
            "note_id": "n1", "kind": "question_for_prescriber", "text": "Evening dose?"})).status_code == 201
        assert (await i.post(f"/people/{person_id}/consents/{directive_id}/revocation", json={})).status_code == 201
        await eventually(lambda: _shared_status(c, person_id, 404), what="the revocation to reach careplan")
        await settled(c, person_id, lambda p: len(p["screenings"]) == 2 and len(p["team"]) == 2
                      and p["medication_notes"] and p["safety_plan"]["version"] == 2, "the later changes")

        past = await as_of(c, person_id, moment)
        assert {part: past[part] for part in LIVE} == then
        assert past["at"] == moment.isoformat().replace("+00:00", "Z")
        assert past["care_plan"]["goals"][0]["status"] == "active"  # the changes since do not show
        ((directive),) = past["consent_directives"]
        assert (directive["directive_id"], directive["revoked_at"], directive["in_force"]) == (directive_id, None, True)

        now_live = await live(c, person_id)
        now = datetime.now(timezone.utc)
        current = await as_of(c, person_id, now)
        assert {part: current[part] for part in LIVE} == now_live
        assert now_live != then
        ((directive),) = current["consent_directives"]
        assert directive["revoked_at"] is not None and directive["in_force"] is False

        # Before careplan heard of the person: nothing to show. A moment to come: 422 naming `at`.
        refused = await c.get(f"/audit/people/{person_id}/as-of", params={"at": before_anything.isoformat()})
        assert refused.status_code == 404
        for at in ((now + timedelta(hours=1)).isoformat(), "2026-12-01T09:30:00"):
            refused = await c.get(f"/audit/people/{person_id}/as-of", params={"at": at})
            assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "at"], refused.text

        # The person reads their own; staff (even on the team) are refused the right.
        mine = await c.get(f"/audit/people/{person_id}/as-of", params={"at": moment.isoformat()},
                           headers=bearer("person", "sam", person_id=person_id))
        assert mine.status_code == 200 and mine.json() == past
        staff = await c.get(f"/audit/people/{person_id}/as-of", params={"at": moment.isoformat()},
                            headers=COORDINATOR)
        assert staff.status_code == 403

    # The command prints the same JSON, from careplan's store.
    monkeypatch.setenv("DATABASE_URL", system.isolation.database_url)
    monkeypatch.setenv("EVENT_CIPHER_KEY", TEST_CIPHER_KEY)
    capsys.readouterr()
    assert cli.main(["audit", "as-of", person_id, moment.isoformat()]) == 0
    assert json.loads(capsys.readouterr().out) == past
    assert cli.main(["audit", "as-of", person_id, before_anything.isoformat()]) == 2


async def _shared_status(careplan: httpx.AsyncClient, person_id: str, wanted: int) -> bool:
    return (await careplan.get(f"/people/{person_id}/shared", headers=AUNT)).status_code == wanted
