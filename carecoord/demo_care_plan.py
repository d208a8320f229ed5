"""The care plan part of `carecoord demo`: the team and the person plan together, medication is
collaboration within scope of practice, and a named support sees what the person shares."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx


def play_care_plan(http: httpx.Client, intake: str, careplan: str, person_id: str, token: Callable[..., str],
                   wait_for: Callable[[httpx.Client, str, dict[str, str]], dict]) -> None:
    def as_(role: str, **claims: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(role, **claims)}"}

    supervisor = as_("supervisor", subject="sam-supervisor")
    coordinator, peer = as_("care_coordinator", subject="alex-coordinator"), as_("peer_specialist", subject="pat-peer")
    prescriber, person = as_("prescriber", subject="dr-ngozi"), as_("person", subject="jordan", person_id=person_id)
    plan = f"{careplan}/people/{person_id}/plan"
    for member, role in (("pat-peer", "peer_specialist"), ("dr-ngozi", "prescriber")):
        http.post(f"{careplan}/people/{person_id}/team", headers=supervisor,
                  json={"member_id": member, "role": role}).raise_for_status()
    http.post(f"{plan}/goals", headers=coordinator, json={
        "in_own_words": "I want to sleep through the night and get back to my shifts",
        "team_restatement": "Improve sleep; return to work", "life_domain": "employment",
        "indicators": ["nights slept through per week"],
        # Jordan says this goal may be shared wherever they share "general"; unmarked, it would stay in the team.
        "sharing_category": "general"}).raise_for_status()
    http.post(f"{plan}/agreement", headers=person, json={"agrees": True}).raise_for_status()
    print("the coordinator wrote a goal in Jordan's words (Jordan may share it as general), and Jordan agreed "
          "to the plan")

    medication = f"{careplan}/people/{person_id}/medication"
    http.post(f"{medication}/notes", headers=person, json={
        "kind": "question_for_prescriber", "medication": "sertraline",
        "text": "Can I take it in the morning? It keeps me awake."}).raise_for_status()
    decision = {"decision": "change", "medication": "sertraline", "dose": "50 mg in the morning",
                "rationale": "Jordan noticed it keeps them awake; we agreed to move it", "discussed_with_person": True}
    refused = http.post(f"{medication}/decisions", headers=peer, json=decision)
    print(f"a peer specialist trying to record a prescribing decision gets HTTP {refused.status_code}: "
          f"{refused.json()['detail']}")
    http.post(f"{medication}/decisions", headers=prescriber, json=decision).raise_for_status()
    print("the prescriber recorded the change Jordan asked about")

    http.put(f"{careplan}/people/{person_id}/safety-plan", headers=person, json={"based_on_version": 0, "sections": {
        "warning_signs": ["I stop answering texts", "I can't sleep for days"],
        "people_to_ask_for_help": ["Aunt Rosa", "Pat (peer specialist)"],
        "professionals_and_crisis_lines": ["988 Suicide & Crisis Lifeline"],
        "reasons_for_living": ["My niece", "Finishing my apprenticeship"]}}).raise_for_status()
    print("Jordan wrote their safety plan (version 1)")

    http.post(f"{intake}/people/{person_id}/consents", headers=as_("agency_system"), json={
        "recipient_kind": "named_person", "recipient_id": "aunt-rosa", "categories": ["general", "crisis"]},
    ).raise_for_status()
    shared = wait_for(http, f"{careplan}/people/{person_id}/shared", as_("support_person", subject="aunt-rosa"))
    print("what Aunt Rosa sees, by Jordan's consent (general and crisis; nothing on substance use):\n"
          + json.dumps(shared, indent=2, default=str))
