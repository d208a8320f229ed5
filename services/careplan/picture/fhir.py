"""The integrated picture as a FHIR R4 Bundle (type collection), built and validated with
`fhir.resources` (R4B models, which are R4-compatible for these resources).

CarePlan (when a plan has started: its active goals, the team, current supports as activities,
the next review as a note), CareTeam (when anyone is on it), one Goal per active goal, and one
Observation per latest screening score. Resources get stable ids derived from the person and what
they describe, so exporting the same picture twice gives the same resources; references between
them are `urn:uuid:` full URLs, and the subject is `Patient/<person id>`.
"""

from __future__ import annotations

import math
import re
from typing import Any
from uuid import UUID, uuid5

from fhir.resources.R4B.bundle import Bundle

FHIR_NAMESPACE = UUID("5d0c7a4e-8b1f-4f62-9e3a-7c2b1d0e9f84")
LOINC = "http://loinc.org"
LOCAL_INSTRUMENTS = "urn:carecoord:screening-instrument"
LOCAL_USERS = "urn:carecoord:user"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"

# LOINC codes for the total scores that have one (checked against loinc.org); the others are
# coded with the instrument's name in a local system.
TOTAL_SCORE_LOINC = {
    "PHQ-9": ("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"),
    "GAD-7": ("70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]"),
    "AUDIT-C": ("75626-2", "Total score [AUDIT-C]"),
    "DAST-10": ("82667-7", "Total score [DAST-10]"),
}

# FHIR's string and markdown: at least one character that is a space, tab, newline or not whitespace.
FHIR_TEXT = re.compile(r"[ \r\n\t\S]")
NOT_RECORDED = "(not recorded)"

Json = dict[str, Any]


def picture_bundle(view: Json) -> Bundle:
    """A presented picture (view.present) as a validated FHIR Bundle."""
    person_id = view["person_id"]
    patient = {"reference": f"Patient/{person_id}"}
    entries: list[Json] = []

    def add(kind: str, key: str, resource: Json) -> str:
        resource_id = str(uuid5(FHIR_NAMESPACE, f"{person_id}/{kind}/{key}"))
        entries.append({"fullUrl": f"urn:uuid:{resource_id}", "resource": {"resourceType": kind, "id": resource_id,
                                                                            **resource}})
        return f"urn:uuid:{resource_id}"

    observations = [add("Observation", s["domain"], _observation(s, patient)) for s in view["screenings"]]
    goals = [add("Goal", str(g["goal_id"]), _goal(g, patient)) for g in view["goals"]]
    team = add("CareTeam", "team", _care_team(view["team"], patient)) if view["team"] else None
    if view["plan"] is not None:
        add("CarePlan", "plan", _care_plan(view, patient, goals, team, observations))
    bundle: Json = {"resourceType": "Bundle", "id": str(uuid5(FHIR_NAMESPACE, f"{person_id}/bundle")),
                    "type": "collection", "entry": entries}
    if view["updated_at"]:
        bundle["timestamp"] = view["updated_at"]
    return Bundle.model_validate(bundle)


def _observation(screening: Json, patient: Json) -> Json:
    instrument = screening["instrument"]
    if instrument in TOTAL_SCORE_LOINC:
        code, display = TOTAL_SCORE_LOINC[instrument]
        coding = {"system": LOINC, "code": code, "display": display}
    else:
        coding = {"system": LOCAL_INSTRUMENTS, "code": instrument, "display": f"{instrument} result"}
    observation: Json = {
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}],
        "code": {"coding": [coding], "text": f"{instrument} ({screening['domain'].replace('_', ' ')})"},
        "subject": patient,
        "effectiveDateTime": screening["scored_at"],
        "interpretation": [_interpretation(screening)],
    }
    if screening["total"] is not None:
        observation["valueInteger"] = screening["total"]
    elif screening["band"] is not None:  # the C-SSRS has a risk level, never a total
        observation["valueCodeableConcept"] = {"text": screening["band"]}
    else:
        observation["dataAbsentReason"] = {"coding": [{"system": DATA_ABSENT, "code": "unknown"}],
                                           "text": "not enough items answered for a total"}
    notes = []
    if screening["flags"]:
        notes.append(f"flags: {', '.join(screening['flags'])}")
    if not screening["complete"]:
        notes.append("not every item was answered")
    if notes:
        observation["note"] = [{"text": note} for note in notes]
    return observation


def _interpretation(screening: Json) -> Json:
    code, display = {True: ("POS", "Positive"), False: ("NEG", "Negative"), None: ("IND", "Indeterminate")}[
        screening["positive"]]
    concept: Json = {"coding": [{"system": INTERPRETATION, "code": code, "display": display}]}
    if screening["band"]:
        concept["text"] = screening["band"]
    return concept


def _goal(goal: Json, patient: Json) -> Json:
    resource: Json = {
        "lifecycleStatus": "active",
        "description": {"text": _text(goal["in_own_words"]) or NOT_RECORDED},  # the person's own words
        "subject": patient,
    }
    if goal_id := _text(goal["goal_id"]):
        resource["identifier"] = [{"system": "urn:carecoord:goal", "value": goal_id}]
    if life_domain := _text(goal["life_domain"]):
        resource["category"] = [{"text": life_domain.replace("_", " ")}]
    if indicators := [text for text in map(_text, goal["indicators"]) if text]:
        resource["target"] = [{"measure": {"text": indicator}} for indicator in indicators]
    notes = []
    if goal["team_restatement"]:
        notes.append(f"The team's restatement: {goal['team_restatement']}")
    for indicator, latest in goal["latest_values"].items():
        notes.append(f"{indicator or NOT_RECORDED}: {_number(latest['value'])} on {latest['recorded_on']}")
    if notes := [text for text in map(_text, notes) if text]:
        resource["note"] = [{"text": note} for note in notes]
    return resource


def _care_team(members: list[Json], patient: Json) -> Json:
    return {
        "status": "active",
        "subject": patient,
        "participant": [{
            "role": [{"text": (_text(member["role"]) or NOT_RECORDED).replace("_", " ")}],
            "member": {"identifier": {"system": LOCAL_USERS, "value": _text(member["member_id"]) or NOT_RECORDED},
                       "display": _text(member["member_id"]) or NOT_RECORDED},
        } for member in members],
    }


def _care_plan(view: Json, patient: Json, goals: list[str], team: str | None, observations: list[str]) -> Json:
    plan = view["plan"]
    resource: Json = {
        "status": "active",
        "intent": "plan",
        "title": "Integrated care plan",
        "subject": patient,
        "period": {"start": plan["started_on"]},
    }
    if goals:
        resource["goal"] = [{"reference": goal} for goal in goals]
    if team:
        resource["careTeam"] = [{"reference": team}]
    if observations:
        resource["supportingInfo"] = [{"reference": observation} for observation in observations]
    if view["supports"]:
        resource["activity"] = [{"detail": {
            "status": "in-progress",
            "code": {"text": (_text(support["life_domain"]) or NOT_RECORDED).replace("_", " ")},
            "description": _text(support["description"]) or NOT_RECORDED,
            "performer": [{"display": _text(support["provided_by"]) or NOT_RECORDED}],
        }} for support in view["supports"]]
    if view["next_review"]:
        review = view["next_review"]
        resource["note"] = [{"text": f"Next review due {review['due_on']} ({', '.join(review['prompted_by'])})"}]
    return resource


def _text(value: Any) -> str | None:
    """`value` as a FHIR string, or None when nothing of it is left. The domain keeps the person's
    words as they were given, which FHIR cannot always hold: an empty string, one made only of
    whitespace such as U+0085 or U+2028, or a lone surrogate."""
    if value is None:
        return None
    text = str(value).encode("utf-8", "replace").decode("utf-8")
    return text if FHIR_TEXT.search(text) else None


def _number(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # None, or an integer past any float
        return str(value)
    return f"{number:g}" if math.isfinite(number) else str(value)
