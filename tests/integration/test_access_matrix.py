"""Every endpoint, every kind of caller: the status each gets, and that no refusal leaks data."""

from __future__ import annotations

import base64
import itertools
import json
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import httpx

from tests.support.polling import eventually
from tests.support.serving import serving
from tests.support.system import TEST_AGENCY, System, bearer, token
from tests.support.teams import join_team

STAFF = ["care_coordinator", "clinician", "prescriber", "peer_specialist", "case_manager", "supervisor"]
# Callers, by name: role and claims. Staff "on team" are on the person's care team; "elsewhere"
# are on another person's team only.
CALLERS = {
    "agency": ("agency_system", {"agency": TEST_AGENCY}),
    "other_agency": ("agency_system", {"agency": "south-clinic"}),
    "auditor": ("auditor", {}),
    **{f"{role}_on_team": (role, {"subject": f"{role}-on-team"}) for role in STAFF},
    "clinician_elsewhere": ("clinician", {"subject": "clinician-elsewhere"}),
    "coordinator_elsewhere": ("care_coordinator", {"subject": "coordinator-elsewhere"}),
    # Outside the team: the person consented to share "general" with this aunt, nothing with the agency.
    "support_person": ("support_person", {"subject": "aunt-with-consent"}),
    "outside_agency": ("outside_agency", {"agency": "county-probation"}),
    # A care-team app: it manages only the webhook subscriptions a supervisor registered for it.
    "care_team_app": ("care_team_app", {"app": "matrix-app"}),
}
OUTSIDERS = {"support_person", "outside_agency"}
# Webhook subscriptions: one made by the coordinator on the team (see _people_with_teams).
SUBSCRIPTION_OWNER = "care_coordinator_on_team"
SUBSCRIBERS = {*(f"{role}_on_team" for role in STAFF), "clinician_elsewhere", "coordinator_elsewhere", *OUTSIDERS,
               "care_team_app"}
COORDINATOR_GOAL = "goal-of-care_coordinator_on_team"  # set by the "goal" row, then changed by others
ON_TEAM = {f"{role}_on_team" for role in STAFF}
# Staff hold the right to register, but only for an agency that lets its staff (none here).
REGISTRARS = {"agency", "other_agency"}

PRIVATE_NAME = "Jordan-Confidential"


def expected(endpoint: str, caller: str) -> int:
    """The status each caller should get, from the rules in shared/access.py."""
    elsewhere = caller.endswith("_elsewhere")
    if endpoint == "asyncapi":
        return 200
    if endpoint.startswith("subscription"):
        return expected_of_subscriptions(endpoint, caller)
    if endpoint.startswith("disclosures"):
        # The accounting of disclosures: auditors', and the person's own; no other role's at all.
        return 200 if caller in ("auditor", "person") else 403
    if endpoint == "stream":
        # Whoever may be sent notices at all connects; each notice is decided as it is sent
        # (tests/integration/test_notice_stream.py). Nobody else is sent care notifications.
        return 403 if caller in ("agency", "other_agency", "auditor", "person", "care_team_app") else 200
    if endpoint.startswith("history_"):
        # A person's audit history: auditors, and the person their own; nobody else, for their role.
        return 200 if caller in ("auditor", "person") else 403
    if caller == "care_team_app":
        return 403  # it holds no other right
    if endpoint == "shared":
        if caller in OUTSIDERS:
            return 200 if caller == "support_person" else 404  # consent decides, and hides existence
        return 403
    if caller in OUTSIDERS:
        return 403  # no right to anything else, whatever the consent
    if endpoint == "as_of":
        return 200 if caller in ("auditor", "person") else 403  # auditing: not the team's, nor the agency's
    if endpoint == "register":
        if caller == "other_agency":
            return 403  # registers for its own agency only
        return 201 if caller in REGISTRARS else 403
    if endpoint in ("screening", "crisis_contact"):
        if caller == "auditor" or caller == "person":
            return 403
        return 404 if elsewhere or caller == "other_agency" else 201
    if endpoint == "intake_record":
        return 404 if elsewhere or caller == "other_agency" else 200
    if endpoint in ("plan", "medication", "safety_plan"):
        endpoint = "timeline"  # read as the timeline is
    if endpoint in ("describe_person", "support", "end_support", "setback", "goal_status", "indicator_value"):
        if caller in ("agency", "other_agency", "auditor"):
            return 403
        if elsewhere:
            return 404
        return 201 if endpoint in ("support", "setback", "indicator_value") else 200
    if endpoint in ("goal_sharing", "support_sharing"):
        if caller in ("agency", "other_agency", "auditor"):
            return 403
        if elsewhere:
            return 404
        return 200 if caller == "person" else 403  # once written, what is shared is the person's choice
    if endpoint == "remove_member":
        if caller == "care_coordinator_on_team":
            return 204
        if caller in ("supervisor_on_team", "coordinator_elsewhere"):
            return 404  # already removed by the coordinator; not on this team
        return 403
    if endpoint == "revoke_consent":
        if caller == "agency":
            return 201
        if caller in ("care_coordinator_on_team", "supervisor_on_team", "person"):
            return 200  # already revoked
        return 404 if caller in ("other_agency", "coordinator_elsewhere") else 403
    if endpoint in ("goal", "medication_note", "safety_plan_write"):
        if caller in ("agency", "other_agency", "auditor"):
            return 403
        return 404 if elsewhere else 201
    if endpoint in ("review", "crisis_follow_up"):
        if caller in ("agency", "other_agency", "auditor", "person"):
            return 403
        if elsewhere:
            return 404
        return 201 if endpoint == "review" else 422  # 422: authorized, but no such crisis contact
    if endpoint == "agreement":
        if caller in ("person", "care_coordinator_on_team", "supervisor_on_team"):
            return 201
        return 404 if caller == "coordinator_elsewhere" else 403
    if endpoint == "decision":
        if caller in ("agency", "other_agency", "auditor", "person"):
            return 403
        if elsewhere:
            return 404
        return 201 if caller == "prescriber_on_team" else 403  # scope of practice
    if endpoint in ("timeline", "team", "picture", "picture_fhir"):
        if caller in ("agency", "other_agency"):
            return 403
        return 404 if elsewhere else 200
    if endpoint == "acknowledge_follow_up":
        if caller in ("agency", "other_agency", "auditor", "person"):
            return 403
        return 404  # elsewhere: not theirs; on the team: authorized, but no such follow-up
    if endpoint in ("notifications", "crisis_follow_ups"):
        if caller in ("agency", "other_agency", "person"):
            return 403
        return 404 if elsewhere else 200
    if endpoint in ("consent", "amend"):
        if caller in ("person", "agency", "care_coordinator_on_team", "supervisor_on_team"):
            return 201 if endpoint == "consent" else 200
        if caller in ("other_agency", "coordinator_elsewhere"):
            return 404  # the right, but not for this person
        return 403
    if endpoint == "merge":
        # Into the person, a duplicate whose team has the on-team coordinator and supervisor and the
        # coordinator from elsewhere; callers run in CALLERS' order, so the second merge is a repeat.
        if caller == "care_coordinator_on_team":
            return 201
        if caller == "supervisor_on_team":
            return 200  # the same merge, already recorded
        if caller == "coordinator_elsewhere":
            return 404  # sees the duplicate but not the survivor: a merger must see both
        return 403
    if endpoint == "add_member":
        if caller in ("care_coordinator_on_team", "supervisor_on_team"):
            return 200  # already on the team in that role
        if caller == "coordinator_elsewhere":
            return 404
        return 403
    raise AssertionError(endpoint)


def expected_of_subscriptions(endpoint: str, caller: str) -> int:
    """Who holds the right manages their own subscriptions; supervisors operate everyone's; a
    care-team app's are registered by a supervisor; anyone else's is not found."""
    if caller not in SUBSCRIBERS:
        return 403
    if endpoint == "subscriptions":
        return 200
    if endpoint == "subscription_new":
        return 403 if caller == "care_team_app" else 201
    if endpoint == "subscription_delete":
        return 204 if caller == SUBSCRIPTION_OWNER else 404  # gone for those after the owner
    if caller in (SUBSCRIPTION_OWNER, "supervisor_on_team"):
        return 201 if endpoint == "subscription_rotation" else 200
    return 404


async def test_every_endpoint_gives_each_caller_exactly_what_the_rules_say(system: System):
    intake = await system.start_connected("intake")
    careplan = await system.start_connected("careplan")
    notifications = await system.start_connected("notifications")
    clients = {name: system.client(service) for name, service in
               (("intake", intake), ("careplan", careplan), ("notifications", notifications))}
    person_id, other_id, duplicate_id, directive_id = await _people_with_teams(clients)
    callers = {**CALLERS, "person": ("person", {"person_id": person_id})}
    made = await clients["notifications"].post("/subscriptions", headers=bearer("care_coordinator", "care_coordinator-on-team"),
                                               json={"url": "https://hooks.example/matrix"})
    assert made.status_code == 201, made.text
    subscription = f"/subscriptions/{made.json()['subscription_id']}"

    endpoints = {
        "register": ("intake", "POST", "/people", lambda caller: {
            "agency": TEST_AGENCY if caller != "other_agency" else "north-clinic",
            "agency_person_id": f"new-{caller}", "preferred_name": "New"}),
        "screening": ("intake", "POST", f"/people/{person_id}/screenings",
                      lambda _: {"instrument": "GAD-7", "answers": {"item1": 1}}),
        "crisis_contact": ("intake", "POST", f"/people/{person_id}/crisis-contacts", lambda _: {
            "kind": "crisis_line_call", "occurred_at": "2026-11-20T16:00:00+00:00", "location": "phone",
            "responders": [], "outcome": "resolved_in_community"}),
        "consent": ("intake", "POST", f"/people/{person_id}/consents", lambda caller: {
            "recipient_kind": "named_person", "recipient_id": f"friend-of-{caller}", "categories": ["general"]}),
        "amend": ("intake", "PATCH", f"/people/{person_id}", lambda caller: {"pronouns": f"set by {caller}"}),
        "intake_record": ("intake", "GET", f"/people/{person_id}", None),
        "asyncapi": ("careplan", "GET", "/asyncapi.json", None),
        "timeline": ("careplan", "GET", f"/people/{person_id}/timeline", None),
        "team": ("careplan", "GET", f"/people/{person_id}/team", None),
        "picture": ("careplan", "GET", f"/people/{person_id}/picture", None),
        "picture_fhir": ("careplan", "GET", f"/people/{person_id}/picture/fhir", None),
        "as_of": ("careplan", "GET", f"/audit/people/{person_id}/as-of?at={now_to_the_microsecond()}",
                  None),
        "add_member": ("careplan", "POST", f"/people/{person_id}/team",
                       lambda _: {"member_id": "care_coordinator-on-team", "role": "care_coordinator"}),
        "notifications": ("notifications", "GET", f"/people/{person_id}/notifications", None),
        "stream": ("notifications stream", "GET", "/stream", None),
        "crisis_follow_ups": ("notifications", "GET", f"/people/{person_id}/crisis-follow-ups", None),
        "acknowledge_follow_up": ("notifications", "POST",
                                  f"/people/{person_id}/crisis-follow-ups/no-such-contact/acknowledgements", None),
        "shared": ("careplan", "GET", f"/people/{person_id}/shared", None),
        "disclosures_careplan": ("careplan", "GET", f"/audit/people/{person_id}/disclosures", None),
        "disclosures_notifications": ("notifications", "GET", f"/audit/people/{person_id}/disclosures", None),
        "goal": ("careplan", "POST", f"/people/{person_id}/plan/goals",
                 lambda caller: {"goal_id": f"goal-of-{caller}", "in_own_words": "Feel at home again",
                                 "indicators": ["good days"]}),
        "goal_status": ("careplan", "POST", f"/people/{person_id}/plan/goals/{COORDINATOR_GOAL}/status",
                        lambda _: {"status": "active"}),
        "indicator_value": ("careplan", "POST", f"/people/{person_id}/plan/goals/{COORDINATOR_GOAL}/indicator-values",
                            lambda _: {"indicator": "good days", "value": 4}),
        "describe_person": ("careplan", "PUT", f"/people/{person_id}/plan/person",
                            lambda _: {"strengths": ["Keeps going"]}),
        "support": ("careplan", "POST", f"/people/{person_id}/plan/supports", lambda caller: {
            "support_id": f"support-of-{caller}", "life_domain": "transportation", "description": "Bus pass",
            "provided_by": "County transit"}),
        "support_sharing": ("careplan", "PUT",
                            f"/people/{person_id}/plan/supports/support-of-care_coordinator_on_team/sharing-category",
                            lambda _: {"sharing_category": "general"}),
        "goal_sharing": ("careplan", "PUT", f"/people/{person_id}/plan/goals/{COORDINATOR_GOAL}/sharing-category",
                         lambda _: {"sharing_category": "general"}),
        "end_support": ("careplan", "POST", f"/people/{person_id}/plan/supports/support-of-care_coordinator_on_team/end",
                        lambda _: {"because": "They got a bike"}),
        "setback": ("careplan", "POST", f"/people/{person_id}/plan/setbacks", lambda caller: {
            "setback_id": f"setback-of-{caller}", "occurred_on": "2026-11-20", "in_own_words": "A rough week"}),
        "review": ("careplan", "POST", f"/people/{person_id}/plan/reviews",
                   lambda _: {"what_changed": "Nothing yet", "why": "Regular review"}),
        "agreement": ("careplan", "POST", f"/people/{person_id}/plan/agreement", lambda _: {"agrees": True}),
        "crisis_follow_up": ("careplan", "POST", f"/people/{person_id}/plan/crisis-follow-ups",
                             lambda _: {"contact_id": "no-such-contact"}),
        "plan": ("careplan", "GET", f"/people/{person_id}/plan", None),
        "medication_note": ("careplan", "POST", f"/people/{person_id}/medication/notes",
                            lambda caller: {"note_id": f"note-of-{caller}", "kind": "question_for_prescriber",
                                            "text": "Could it be taken in the evening?"}),
        "decision": ("careplan", "POST", f"/people/{person_id}/medication/decisions", lambda caller: {
            "decision_id": f"decision-of-{caller}", "decision": "stop", "medication": "quetiapine",
            "rationale": "The person chose to stop; we agreed a taper", "discussed_with_person": True}),
        "medication": ("careplan", "GET", f"/people/{person_id}/medication", None),
        "safety_plan_write": ("careplan", "PUT", f"/people/{person_id}/safety-plan", SafetyPlanWrites()),
        "safety_plan": ("careplan", "GET", f"/people/{person_id}/safety-plan", None),
        "subscription_new": ("notifications", "POST", "/subscriptions",
                             lambda caller: {"url": f"https://hooks.example/{caller}"}),
        "subscriptions": ("notifications", "GET", "/subscriptions", None),
        "subscription": ("notifications", "GET", subscription, None),
        "subscription_change": ("notifications", "PATCH", subscription, lambda _: {"content": "summary"}),
        "subscription_rotation": ("notifications", "POST", f"{subscription}/secret-rotation", None),
        "subscription_deliveries": ("notifications", "GET", f"{subscription}/deliveries?status=parked", None),
        "subscription_replay": ("notifications", "POST", f"{subscription}/replay", lambda _: {"sequence": 1}),
        "subscription_events": ("notifications", "GET", f"{subscription}/events?after=0", None),
        "subscription_delete": ("notifications", "DELETE", subscription, None),
        **{f"history_{name}": (name, "GET", f"/audit/people/{person_id}/history", None)
           for name in ("intake", "careplan", "notifications")},
        "revoke_consent": ("intake", "POST", f"/people/{person_id}/consents/{directive_id}/revocation",
                           lambda _: {}),
        "remove_member": ("careplan", "DELETE", f"/people/{person_id}/team/case_manager-on-team", None),
        # Last: the merge closes the duplicate's record.
        "merge": ("intake", "POST", f"/people/{person_id}/merges",
                  lambda _: {"duplicate_id": duplicate_id, "reason": "the same person, registered twice"}),
    }
    bad_tokens = {
        "no token": {},
        "expired": {"Authorization": f"Bearer {token('auditor', now=time.time() - 7200)}"},
        "wrong signature": {"Authorization": f"Bearer {token('auditor', secret='not-the-secret-but-just-as-long-as-the-real-one')}"},
        "wrong audience": {"Authorization": f"Bearer {token('auditor', audience='another-system')}"},
        "wrong issuer": {"Authorization": f"Bearer {token('auditor', issuer='someone-else')}"},
        "unsigned (alg none)": {"Authorization": f"Bearer {_unsigned_token()}"},
        "unknown role": {"Authorization": f"Bearer {token('administrator')}"},
        "not a JWT": {"Authorization": "Bearer not-a-jwt"},
    }

    async with serving(notifications) as address:
        await _check_every_answer(clients, address, endpoints, callers, bad_tokens, other_id)


async def _check_every_answer(clients, address, endpoints, callers, bad_tokens, other_id) -> None:
    async def request(service: str, method: str, path: str, json: object, headers: dict[str, str]):
        if service == "notifications stream":
            return await _stream_answer(address, path, headers)
        return await clients[service].request(method, path, json=json, headers=headers)

    mismatches = []
    for (endpoint, (service, method, path, body)), (caller, (role, claims)) in itertools.product(
        endpoints.items(), callers.items()
    ):
        response = await request(service, method, path, body(caller) if body else None, bearer(role, **claims))
        want = expected(endpoint, caller)
        if response.status_code != want:
            mismatches.append(f"{endpoint:14} {caller:28} got {response.status_code}, want {want}: {response.text[:120]}")
        if response.status_code >= 400 and (PRIVATE_NAME in response.text or str(other_id) in response.text):
            mismatches.append(f"{endpoint} {caller}: refusal leaks data: {response.text[:200]}")
    for (endpoint, (service, method, path, body)), (kind, headers) in itertools.product(
        endpoints.items(), bad_tokens.items()
    ):
        response = await request(service, method, path, body("agency") if body else None, headers)
        if response.status_code != 401 or response.headers.get("WWW-Authenticate") != "Bearer":
            mismatches.append(f"{endpoint:14} {kind:28} got {response.status_code}, want 401 with WWW-Authenticate")
    for client in clients.values():
        await client.aclose()
    assert not mismatches, "\n" + "\n".join(mismatches)


async def _stream_answer(address: tuple[str, int], path: str, headers: dict[str, str]) -> SimpleNamespace:
    """The status of a live stream served by uvicorn, and the body of a refusal: an accepted
    stream never ends (and an in-process client would wait for its end)."""
    host, port = address
    async with (httpx.AsyncClient(base_url=f"http://{host}:{port}") as client,
                client.stream("GET", path, headers=headers) as response):
        text = "" if response.status_code == 200 else (await response.aread()).decode()
        return SimpleNamespace(status_code=response.status_code, text=text, headers=response.headers)


class SafetyPlanWrites:
    """Each allowed caller revises the version the previous one wrote (callers go in order)."""

    def __init__(self) -> None:
        self.written = 0

    def __call__(self, caller: str) -> dict:
        body = {"based_on_version": self.written, "sections": {"reasons_for_living": [f"as told to {caller}"]}}
        if expected("safety_plan_write", caller) == 201:
            self.written += 1
        return body


async def _people_with_teams(clients) -> tuple[str, str, str, str]:
    """The person, another person, a duplicate of the person (to merge), and the person's consent
    directive for the support person."""
    agency, supervisor = bearer("agency_system"), bearer("supervisor", "supervisor-on-team")
    people = []
    for record in ("matrix-1", "matrix-2", "matrix-1-again"):
        response = await clients["intake"].post("/people", headers=agency, json={
            "agency": TEST_AGENCY, "agency_person_id": record, "preferred_name": PRIVATE_NAME})
        assert response.status_code == 201, response.text
        people.append(response.json()["person_id"])
    person_id, other_id, duplicate_id = people
    for role in STAFF:
        response = await join_team(clients["careplan"], person_id, f"{role}-on-team", role, supervisor)
        assert response.status_code == 201, response.text
    for member, role in (("clinician-elsewhere", "clinician"), ("coordinator-elsewhere", "care_coordinator")):
        response = await join_team(clients["careplan"], other_id, member, role, supervisor)
        assert response.status_code == 201, response.text
    for member, role in (("care_coordinator-on-team", "care_coordinator"), ("supervisor-on-team", "supervisor"),
                         ("coordinator-elsewhere", "care_coordinator")):
        response = await join_team(clients["careplan"], duplicate_id, member, role, supervisor)
        assert response.status_code == 201, response.text

    consent = await clients["intake"].post(f"/people/{person_id}/consents", headers=agency, json={
        "recipient_kind": "named_person", "recipient_id": "aunt-with-consent", "categories": ["general"]})
    assert consent.status_code == 201, consent.text

    # The team reaches intake and notifications, and the consent careplan, through the broker.
    async def team_known_everywhere():
        last = bearer("supervisor", "supervisor-on-team")
        seen_by_intake = await clients["intake"].get(f"/people/{person_id}", headers=last)
        seen_by_notifications = await clients["notifications"].get(f"/people/{person_id}/notifications", headers=last)
        elsewhere = bearer("clinician", "clinician-elsewhere")
        other_seen = await clients["intake"].get(f"/people/{other_id}", headers=elsewhere)
        duplicate_seen = await clients["intake"].get(f"/people/{duplicate_id}",
                                                     headers=bearer("care_coordinator", "coordinator-elsewhere"))
        shared = await clients["careplan"].get(f"/people/{person_id}/shared",
                                               headers=bearer("support_person", "aunt-with-consent"))
        # ...and careplan's picture is projected from its own log, asynchronously too.
        pictured = await clients["careplan"].get(f"/people/{person_id}/picture", headers=last)
        return (pictured.status_code == seen_by_intake.status_code == seen_by_notifications.status_code == other_seen.status_code
                == duplicate_seen.status_code == shared.status_code == 200)

    await eventually(team_known_everywhere, what="care teams known to intake and notifications")
    return person_id, other_id, duplicate_id, consent.json()["directive_id"]


def _unsigned_token() -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': 'x', 'role': 'auditor', 'aud': 'carecoord', 'iss': 'carecoord-dev', 'iat': now, 'exp': now + 600})}."


def now_to_the_microsecond() -> str:
    """Now, to the microsecond: truncated to the second, the moment could precede the events just
    recorded in the same second, and the record as of then would not exist yet (404)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
