"""`carecoord demo`: the README's scenario, played over HTTP against running services."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import httpx

from carecoord.demo_care_plan import play_care_plan
from carecoord.demo_webhooks import play_webhooks
from carecoord.dev import DEMO_AGENCY, dev_token


@dataclass(frozen=True)
class DemoUrls:
    """Where the demo finds the services (`carecoord run` puts them here; tests elsewhere)."""

    intake: str = "http://127.0.0.1:8001"
    careplan: str = "http://127.0.0.1:8002"
    notifications: str = "http://127.0.0.1:8003"


def play_demo(urls: DemoUrls = DemoUrls()) -> int:
    """An agency registers a person and records a PHQ-9; a supervisor forms the care team; the
    team's care coordinator sees the timeline and notifications; a clinician outside the team
    is told the person does not exist. Then the care plan (carecoord/demo_care_plan.py), and a
    crisis reaching a care-team app by webhook (carecoord/demo_webhooks.py)."""
    agency = {"Authorization": f"Bearer {dev_token('agency_system', agency=DEMO_AGENCY)}"}
    supervisor = {"Authorization": f"Bearer {dev_token('supervisor', subject='sam-supervisor')}"}
    coordinator = {"Authorization": f"Bearer {dev_token('care_coordinator', subject='alex-coordinator')}"}
    outsider = {"Authorization": f"Bearer {dev_token('clinician', subject='kim-elsewhere')}"}
    correlation = {"X-Correlation-Id": f"demo-{uuid.uuid4().hex[:8]}"}
    with httpx.Client(timeout=5) as http:
        registered = http.post(f"{urls.intake}/people", headers={**agency, **correlation}, json={
            "agency": DEMO_AGENCY, "agency_person_id": f"RCH-{uuid.uuid4().hex[:6]}", "preferred_name": "Jordan",
        })
        registered.raise_for_status()
        person_id = registered.json()["person_id"]
        print(f"agency registered person {person_id}")
        screening = http.post(f"{urls.intake}/people/{person_id}/screenings",
                              headers={**agency, **correlation, "Idempotency-Key": f"demo-{uuid.uuid4()}"},
                              json={"instrument": "PHQ-9", "answers": {
                                  "item1": 2, "item2": 2, "item3": 1, "item4": 2, "item5": 1,
                                  "item6": 1, "item7": 1, "item8": 0, "item9": 0}})
        screening.raise_for_status()
        result = screening.json()["result"]
        print(f"agency recorded screening {screening.json()['screening_id']}: PHQ-9 total {result['total']}, "
              f"{result['band']}, {'positive' if result['positive'] else 'negative'}")
        _await_team(http, f"{urls.careplan}/people/{person_id}/team", {**supervisor, **correlation},
                    {"member_id": "alex-coordinator", "role": "care_coordinator"})
        print("supervisor added alex-coordinator to the care team")
        # Registration, then the screening (answers and score); the team hears of the positive screen.
        timeline = _await_json(http, f"{urls.careplan}/people/{person_id}/timeline", "entries", 2, coordinator)
        notifications = _await_json(http, f"{urls.notifications}/people/{person_id}/notifications", "due", 2,
                                    coordinator)
        refused = http.get(f"{urls.careplan}/people/{person_id}/timeline", headers=outsider)
        print("careplan timeline, as the care coordinator sees it:\n" + json.dumps(timeline["entries"], indent=2))
        print("notifications due to the team:\n" + json.dumps(notifications["due"], indent=2))
        print(f"a clinician outside the team asking for the timeline gets HTTP {refused.status_code}")
        play_care_plan(http, urls.intake, urls.careplan, person_id, dev_token, _await_ok)
        play_webhooks(http, urls.intake, urls.notifications, person_id, dev_token)
    return 0


def _await_team(http: httpx.Client, url: str, headers: dict[str, str], member: dict[str, str],
                timeout: float = 15.0) -> None:
    """Careplan forms a team only for a person it knows, and hears of a registration through the broker."""
    deadline = time.monotonic() + timeout
    while (response := http.post(url, headers=headers, json=member)).status_code == 404:
        if time.monotonic() > deadline:
            raise SystemExit(f"{url}: careplan did not know the person within {timeout:.0f}s")
        time.sleep(0.1)
    response.raise_for_status()


def _await_ok(http: httpx.Client, url: str, headers: dict[str, str], timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = http.get(url, headers=headers)
        if response.status_code == 200:
            return response.json()
        time.sleep(0.1)
    raise SystemExit(f"{url} was not there within {timeout:.0f}s")


def _await_json(http: httpx.Client, url: str, key: str, count: int, headers: dict[str, str],
                timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = http.get(url, headers=headers)
        if response.status_code == 200 and len(response.json()[key]) >= count:
            return response.json()
        time.sleep(0.1)
    raise SystemExit(f"{url} did not show {count} {key} within {timeout:.0f}s")
