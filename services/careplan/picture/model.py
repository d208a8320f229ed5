"""The integrated picture of one person, folded: what every member of the care team sees alike.

A pure fold over careplan's own domain events (`apply`, `fold`) into the picture's facts
(document.py: `Picture`); what is shown from them at a given moment is view.py's `present`.
Plain Python on the domain's own classes: each event class is either shown, with its handler
(`SHOWN`), or named as not shown (`NOT_SHOWN`), and a unit test checks that every event class of
careplan's aggregates is one or the other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate

from services.careplan.domain.care_team import CareTeam
from services.careplan.domain.crisis_follow_ups import CrisisFollowUps
from services.careplan.domain.medication import FOR_PRESCRIBER, MedicationCollaboration
from services.careplan.domain.plan import CarePlan
from services.careplan.domain.plan_changes import PlanChanges
from services.careplan.domain.safety_plan import SafetyPlan
from services.careplan.domain.timeline import Timeline
from services.careplan.picture.document import Picture
from shared.part2 import about_substance_use
from shared.topics import recorded_as

RECENT = 10  # medication notes, prescribing decisions and setbacks kept in the picture


def person_of(domain_event: Any) -> str:
    """Whose picture an event belongs to: careplan's events name the person, and a timeline's id
    is the person's id."""
    return str(getattr(domain_event, "person_id", None) or domain_event.originator_id)


def handles(domain_event: Any) -> bool:
    return type(domain_event) in _HANDLER_BY_CLASS


def apply(picture: Picture | None, domain_event: Any) -> Picture | None:
    """The picture with one more event folded in (changed in place). Events the picture does not
    show are ignored; the first event shown about a person starts their picture."""
    handler = _HANDLER_BY_CLASS.get(type(domain_event))
    if handler is None:
        return picture
    if picture is None:
        picture = Picture(person_id=person_of(domain_event))
    handler(picture, domain_event)
    if isinstance(domain_event, CarePlan.Event) and picture.plan is not None:
        picture.plan["version"] = domain_event.originator_version
    picture.updated_at = _iso(domain_event.timestamp)
    return picture


def fold(events: Any, pictures: dict[str, Picture] | None = None) -> dict[str, Picture]:
    """Every person's picture from a sequence of events, in order (for tests and replay)."""
    pictures = {} if pictures is None else pictures
    for domain_event in events:
        if handles(domain_event):
            person_id = person_of(domain_event)
            picture = apply(pictures.get(person_id), domain_event)
            if picture is not None:  # always, for an event it handles
                pictures[person_id] = picture
    return pictures


# -- the timeline: how the person is named, screening results, crisis contacts ---------------------


def _person_named(picture: Picture, e: Any) -> None:
    for name in ("preferred_name", "pronouns", "preferred_language"):
        if name in e.details:
            setattr(picture, name, e.details[name])


def _screening_result_noted(picture: Picture, e: Any) -> None:
    # The latest result noted in a domain replaces the one before (as Timeline.latest_by_domain).
    picture.screenings[e.domain] = {
        "screening_id": e.screening_id, "instrument": e.instrument, "domain": e.domain, "total": e.total,
        "band": e.band, "positive": e.positive, "flags": list(e.flags), "complete": e.complete,
        "scored_at": _iso(e.occurred_at), "part2": about_substance_use(domain=e.domain),
    }
    if e.positive:
        _prompt_review(picture, "positive_screening", e.screening_id, e.occurred_at,
                       part2=about_substance_use(domain=e.domain))


def _crisis_contact_noted(picture: Picture, e: Any) -> None:
    picture.crisis_contacts.append({
        "contact_id": e.contact_id, "kind": e.kind, "occurred_at": _iso(e.occurred_at), "outcome": e.outcome,
        "follow_up_due": _iso(e.follow_up_due),
    })
    _prompt_review(picture, "crisis_contact", e.contact_id, e.occurred_at)


def _prompt_review(picture: Picture, reason: str, reference: str, occurred_at: datetime, part2: bool = False) -> None:
    # The day in the moment's own zone, as Timeline.review_prompts counts it.
    picture.review_prompts.append({"reason": reason, "reference": reference, "on": occurred_at.date().isoformat(),
                                   **({"part2": True} if part2 else {})})


def _drop_answered_prompts(picture: Picture, answered: list[str]) -> None:
    """A review records the prompts it answers (reviews.next_review); those never count again.
    They are always earlier in careplan's log than the review, so they are here to drop."""
    picture.review_prompts = [p for p in picture.review_prompts if f"{p['reason']}:{p['reference']}" not in answered]


# -- the care team ---------------------------------------------------------------------------------


def _member_joined(picture: Picture, e: Any) -> None:
    picture.team[e.member_id] = e.role


def _member_left(picture: Picture, e: Any) -> None:
    picture.team.pop(e.member_id, None)


# -- the care plan ---------------------------------------------------------------------------------


def _plan_started(picture: Picture, e: Any) -> None:
    started_on = _iso(e.started_on)
    picture.plan = {"started_on": started_on, "version": e.originator_version, "last_reviewed_on": started_on,
                    "last_review": None, "agreement": None}


def _goal_set(picture: Picture, e: Any) -> None:
    picture.goals[e.goal_id] = {
        "goal_id": e.goal_id, "in_own_words": e.in_own_words, "team_restatement": e.team_restatement,
        "life_domain": e.life_domain, "indicators": list(e.indicators), "status": "active", "status_why": None,
        "latest_values": {}, "set_at": _iso(e.timestamp),
        "part2": about_substance_use(category=getattr(e, "sharing_category", None)),
    }


def _indicator_value_recorded(picture: Picture, e: Any) -> None:
    latest = picture.goals[e.goal_id]["latest_values"]
    recorded_on = _iso(e.recorded_on)
    # The latest by the day it was measured: a value entered late for an earlier day is history.
    if e.indicator not in latest or latest[e.indicator]["recorded_on"] <= recorded_on:
        latest[e.indicator] = {"value": e.value, "recorded_on": recorded_on, "note": e.note}


def _goal_status_changed(picture: Picture, e: Any) -> None:
    picture.goals[e.goal_id].update(status=e.status, status_why=e.why)


def _person_described(picture: Picture, e: Any) -> None:
    picture.strengths = list(e.strengths)
    picture.preferences = {"language": e.language, "culture": e.culture, "faith": e.faith,
                           "who_to_involve": list(e.who_to_involve)}


def _support_added(picture: Picture, e: Any) -> None:
    picture.supports[e.support_id] = {
        "support_id": e.support_id, "life_domain": e.life_domain, "description": e.description,
        "provided_by": e.provided_by, "since": _iso(e.timestamp), "ended_because": None,
        "part2": about_substance_use(category=getattr(e, "sharing_category", None)),
    }


def _goal_sharing_marked(picture: Picture, e: Any) -> None:
    # Marked as substance-use information (or no longer): a Part 2 record from now on (shared/part2.py).
    picture.goals[e.goal_id]["part2"] = about_substance_use(category=e.sharing_category)


def _support_sharing_marked(picture: Picture, e: Any) -> None:
    picture.supports[e.support_id]["part2"] = about_substance_use(category=e.sharing_category)


def _support_ended(picture: Picture, e: Any) -> None:
    picture.supports[e.support_id]["ended_because"] = e.because


def _setback_recorded(picture: Picture, e: Any) -> None:
    picture.setbacks.append({
        "setback_id": e.setback_id, "occurred_on": _iso(e.occurred_on), "in_own_words": e.in_own_words,
        "what_helped": e.what_helped, "goal_ids": list(e.goal_ids),
    })
    del picture.setbacks[:-RECENT]


def _reviewed(picture: Picture, e: Any) -> None:
    assert picture.plan is not None
    reviewed_on = _iso(e.reviewed_on)
    picture.plan["last_reviewed_on"] = reviewed_on
    picture.plan["last_review"] = {"review_id": e.review_id, "reviewed_on": reviewed_on,
                                   "what_changed": e.what_changed, "why": e.why, "prompted_by": list(e.prompted_by)}
    _drop_answered_prompts(picture, list(e.prompted_by))


def _agreement_recorded(picture: Picture, e: Any) -> None:
    assert picture.plan is not None
    # Current while no plan event follows it (CarePlan.agreement_is_current).
    picture.plan["agreement"] = {"agrees": e.agrees, "given_by": e.given_by, "reason": e.reason,
                                 "given_at": _iso(e.timestamp), "at_plan_version": e.originator_version}


def _crisis_followed_up(picture: Picture, e: Any) -> None:
    picture.crisis_follow_ups[e.contact_id] = {"followed_up_on": _iso(e.followed_up_on), "note": e.note}


# -- medication collaboration ----------------------------------------------------------------------


def _note_added(picture: Picture, e: Any) -> None:
    picture.medication_notes.append({
        "note_id": e.note_id, "kind": e.kind, "text": e.text, "medication": e.medication, "choice": e.choice,
        "author_role": e.author_role, "for_prescriber": e.kind in FOR_PRESCRIBER, "added_at": _iso(e.timestamp),
        "part2": e.part2,
    })
    del picture.medication_notes[:-RECENT]


def _decision_recorded(picture: Picture, e: Any) -> None:
    picture.prescribing_decisions.append({
        "decision_id": e.decision_id, "decision": e.decision, "medication": e.medication, "dose": e.dose,
        "rationale": e.rationale, "discussed_with_person": e.discussed_with_person,
        "prescriber_role": e.author_role, "decided_at": _iso(e.timestamp), "part2": e.part2,
    })
    del picture.prescribing_decisions[:-RECENT]


# -- the safety plan -------------------------------------------------------------------------------


def _safety_plan_started(picture: Picture, e: Any) -> None:
    picture.safety_plan = {"version": 0, "written_at": None}


def _safety_plan_revised(picture: Picture, e: Any) -> None:
    picture.safety_plan = {"version": e.number, "written_at": _iso(e.written_at)}


def _nothing(picture: Picture, e: Any) -> None:
    """The person's picture exists from here on; the event itself shows nothing."""


Handler = Callable[[Picture, Any], None]

SHOWN: dict[type, Handler] = {
    Timeline.Created: _nothing,
    Timeline.PersonNamed: _person_named,
    Timeline.ScreeningResultNoted: _screening_result_noted,
    Timeline.CrisisContactNoted: _crisis_contact_noted,
    CareTeam.Formed: _nothing,
    CareTeam.MemberJoined: _member_joined,
    CareTeam.MemberJoinedThroughMerge: _member_joined,  # the survivor's team is the union (merged.py)
    CareTeam.MemberLeft: _member_left,
    CarePlan.Started: _plan_started,
    CarePlan.GoalSet: _goal_set,
    CarePlan.IndicatorValueRecorded: _indicator_value_recorded,
    CarePlan.GoalStatusChanged: _goal_status_changed,
    CarePlan.PersonDescribed: _person_described,
    CarePlan.SupportAdded: _support_added,
    CarePlan.SupportEnded: _support_ended,
    CarePlan.SetbackRecorded: _setback_recorded,
    CarePlan.Reviewed: _reviewed,
    CarePlan.AgreementRecorded: _agreement_recorded,
    CarePlan.CrisisFollowedUp: _crisis_followed_up,
    # What may be shared outside the team; marked substance use, a Part 2 record within it.
    CarePlan.GoalSharingMarked: _goal_sharing_marked,
    CarePlan.SupportSharingMarked: _support_sharing_marked,
    MedicationCollaboration.Opened: _nothing,
    MedicationCollaboration.NoteAdded: _note_added,
    MedicationCollaboration.PrescribingDecisionRecorded: _decision_recorded,
    SafetyPlan.Started: _safety_plan_started,
    SafetyPlan.Revised: _safety_plan_revised,
}

# Events the picture leaves out, named so that a new event class is shown or left out by choice.
NOT_SHOWN: frozenset[type] = frozenset({
    Timeline.EntryAdded,  # a one-line summary; what the picture needs of it comes in the events above
    Timeline.ConsentNoted, Timeline.ConsentRevocationNoted,  # decide sharing outside the team (sharing.py)
    Timeline.UpstreamEventUnprocessable,  # a gap in the timeline, in the dead-letter queue
    # Which records are one person: each record's picture folds its own events, and the survivor's
    # is combined with its duplicates' when served (merged.py), so a rebuild gives the same.
    Timeline.DuplicateMergedIn, Timeline.MergedAway, Timeline.MergeUndoneNoted,
    # Never recorded: each of these aggregates is created by its own named event above.
    CareTeam.Created, CarePlan.Created, MedicationCollaboration.Created, SafetyPlan.Created,
    # The published copy of the plan's crisis follow-ups (shown from CarePlan.CrisisFollowedUp).
    CrisisFollowUps.FirstRecorded, CrisisFollowUps.Recorded, CrisisFollowUps.Created,
    # The published kinds and ids of the plans' changes (shown from the plans' own events).
    PlanChanges.FirstChanged, PlanChanges.Changed, PlanChanges.Created,
})

AGGREGATES: tuple[type[Aggregate], ...] = (Timeline, CareTeam, CarePlan, MedicationCollaboration, SafetyPlan,
                                           CrisisFollowUps, PlanChanges)


_HANDLER_BY_CLASS: dict[type, Handler] = {
    recorded: handler
    for aggregate in AGGREGATES for event_class, handler in SHOWN.items() if event_class in vars(aggregate).values()
    for recorded in recorded_as(aggregate, event_class)
}



def _iso(value: date | datetime | str) -> str:
    return value if isinstance(value, str) else value.isoformat()
