"""Hostile or careless input to the subscription routes: 4xx naming the field, nothing recorded."""

from __future__ import annotations

import pytest

from tests.integration.webhook_support import CASEY, SUPERVISOR
from tests.support.system import System, bearer

REFUSED = [
    ({"url": "http://hooks.example/x"}, "url", "https"),
    ({"url": "https://169.254.169.254/latest/meta-data"}, "url", "private"),
    ({"url": "https://10.1.2.3/hooks"}, "url", "private"),
    ({"url": "https://user:secret@hooks.example/x"}, "url", "credentials"),
    ({"url": "gopher://hooks.example/x"}, "url", "https"),
    ({"url": "https://hooks.example/x", "min_urgency": "whenever"}, "min_urgency", ""),
    ({"url": "https://hooks.example/x", "content": "everything"}, "content", ""),
    ({"url": "https://hooks.example/x", "person_ids": ["not-a-uuid"]}, "person_ids", ""),
    ({"url": "https://hooks.example/x", "kinds": ["crisis\n"]}, "kinds", ""),
    ({"url": "https://hooks.example/x", "quiet_hours": {"start_hour": 25, "end_hour": 7}}, "quiet_hours", ""),
    ({"url": "https://hooks.example/x", "secret": "whsec_mine"}, "secret", ""),
]


@pytest.mark.parametrize(("body", "field", "words"), REFUSED)
async def test_a_bad_subscription_is_refused_naming_the_field(system: System, body, field, words):
    notifications = await system.start("notifications")
    async with system.client(notifications) as n:
        response = await n.post("/subscriptions", headers=CASEY, json=body)
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert detail[0]["loc"][:2] == ["body", field] and words in detail[0]["msg"]
        assert (await n.get("/subscriptions", headers=CASEY)).json()["subscriptions"] == []


async def test_who_may_subscribe_and_who_registers_an_app(system: System):
    notifications = await system.start("notifications")
    url = {"url": "https://hooks.example/x"}
    app = {**url, "for_app": {"app": "ward-board", "members": ["casey"]}}
    async with system.client(notifications) as n:
        assert (await n.post("/subscriptions", headers=bearer("auditor"), json=url)).status_code == 403
        assert (await n.post("/subscriptions", headers=CASEY, json=app)).status_code == 403  # not a supervisor
        registered = await n.post("/subscriptions", headers=SUPERVISOR, json=app)
        assert registered.status_code == 201 and registered.json()["owner"]["app"] == "ward-board"
        sid = registered.json()["subscription_id"]
        ward = bearer("care_team_app", "ward-board-service", app="ward-board")
        changed = await n.patch(f"/subscriptions/{sid}", headers=ward, json={"min_urgency": "urgent", "status": "disabled"})
        assert changed.status_code == 200, changed.text
        assert (changed.json()["min_urgency"], changed.json()["status"]) == ("urgent", "disabled")
        assert changed.json()["url"] == url["url"]  # what was not given stays
        bad = await n.patch(f"/subscriptions/{sid}", headers=ward, json={"url": "http://hooks.example/x"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "url"]
        replay = await n.post(f"/subscriptions/{sid}/replay", headers=ward, json={})
        assert replay.status_code == 422 and replay.json()["detail"][0]["loc"] == ["body", "sequence"]
        assert (await n.get(f"/subscriptions/{sid}/deliveries?status=lost", headers=ward)).status_code == 422
        assert (await n.delete(f"/subscriptions/{sid}", headers=ward)).status_code == 204
        assert (await n.get(f"/subscriptions/{sid}", headers=ward)).status_code == 404
