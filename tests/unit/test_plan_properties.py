"""Property checks: whatever careplan's request models accept leaves a state that reads back.

Inputs are generated from the request models' own constraints (lengths, patterns, literals,
bounded dates, finite numbers), kept only if the model accepts them, then applied to a person's
care plan, medication record and safety plan through the same commands the API calls, with
intake's events (screenings, crisis contacts) at the edges of their bounds between them. A command
may refuse (422); any other error fails. Afterwards the plan, the next review, the API's views,
the picture (fold and present) and its FHIR export must all work, and be valid JSON.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import date, datetime, time, timedelta, timezone
from itertools import count
from typing import Annotated, Any, Literal, get_args, get_origin
from uuid import uuid4

from annotated_types import MaxLen, MinLen
from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import AfterValidator, BaseModel, ValidationError
from pydantic.fields import FieldInfo

from services.careplan.api.medication import AddNote, MedicationView, RecordDecision
from services.careplan.api.picture import PictureView
from services.careplan.api.plan import (
    AddSupport,
    ChangeGoalStatus,
    DescribePerson,
    EndSupport,
    RecordAgreement,
    RecordCrisisFollowUp,
    RecordIndicatorValue,
    RecordReview,
    RecordSetback,
    SetGoal,
)
from services.careplan.api.plan_views import plan_view
from services.careplan.api.safety_plan import ReviseSafetyPlan
from services.careplan.application import CareplanApplication
from services.careplan.domain.plan import CarePlan, Preferences
from services.careplan.domain.safety_plan import StaleVersion
from services.careplan.picture.fhir import picture_bundle
from services.careplan.picture.document import from_document, to_document
from services.careplan.picture.model import fold
from services.careplan.picture.view import present
from shared.contracts.fields import EARLIEST, IDENTIFIER_PATTERN, LATEST
from shared.domain import InvalidField, Provenance, UpstreamRef
from shared.following import UpstreamChange
from tests.unit.conftest import IN_MEMORY

BY = Provenance("alex", "care_coordinator", "corr-properties")
LONGEST_LIST = 4  # long lists add time, not new states

# -- strategies from the request models' constraints -------------------------------------------------

days = st.one_of(st.sampled_from([EARLIEST, LATEST]), st.dates(EARLIEST, LATEST))
zones = st.sampled_from([timezone.utc, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
# A moment whose UTC day is within the bounds, in any zone: as BoundedDateTime accepts.
moments = st.builds(lambda day, at, zone: datetime.combine(day, at, tzinfo=timezone.utc).astimezone(zone),
                    days, st.sampled_from([time.min, time.max, time(12)]) | st.times(), zones)
# Any text but lone surrogates, which pydantic refuses (they cannot be stored as UTF-8 anyway).
texts = st.characters(exclude_categories=("Cs",))
printable = st.characters(exclude_categories=("Cs",), exclude_characters=[chr(c) for c in (*range(0x20), 0x7F)])


def accepted(model: type[BaseModel], **chosen: st.SearchStrategy) -> st.SearchStrategy[BaseModel]:
    """Instances of `model` built from its fields' constraints (or `chosen` strategies), keeping
    only what the model validates: exactly what its endpoint would pass on."""
    required, optional = {}, {}
    for name, info in model.model_fields.items():
        strategy = chosen[name] if name in chosen else for_annotation(info.annotation, _constraints(info))
        (required if info.is_required() else optional)[name] = strategy
    return st.fixed_dictionaries(required, optional=optional).map(_validated(model)).filter(bool)


def _validated(model: type[BaseModel]) -> typing.Callable[[dict], BaseModel | None]:
    def validate(data: dict) -> BaseModel | None:
        try:
            return model.model_validate(data)
        except ValidationError:
            return None
    return validate


def _constraints(info: Any) -> list[Any]:
    found = []
    for item in getattr(info, "metadata", info):
        found.extend(_constraints(item) if isinstance(item, FieldInfo) else [item])
    return found


def for_annotation(annotation: Any, constraints: list[Any]) -> st.SearchStrategy:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return for_annotation(args[0], constraints + _constraints(list(args[1:])))
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(for_annotation(arg, constraints) for arg in args))
    if origin is Literal:
        return st.sampled_from(args)
    low = next((c.min_length for c in constraints if isinstance(c, MinLen)), 0)
    high = next((c.max_length for c in constraints if isinstance(c, MaxLen)), None)
    if origin is list:
        return st.lists(for_annotation(args[0], []), min_size=low, max_size=min(high or LONGEST_LIST, LONGEST_LIST))
    if origin is dict:
        return st.dictionaries(for_annotation(args[0], []), for_annotation(args[1], []), max_size=LONGEST_LIST)
    if annotation is type(None):
        return st.none()
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(min_value=0, max_value=3)
    if annotation is float:  # NaN and infinities are generated too: the model must refuse them
        return st.floats()
    if annotation is date:
        bounded = any(isinstance(c, AfterValidator) for c in constraints)
        return days if bounded else st.dates()
    if annotation is str:
        patterned = any(getattr(c, "pattern", None) == IDENTIFIER_PATTERN for c in constraints)
        return st.text(printable if patterned else texts, min_size=low, max_size=high)
    raise NotImplementedError(f"no strategy for {annotation!r}")


# -- a person's records, changed through the application as the API changes them --------------------


class Person:
    def __init__(self) -> None:
        self.app = CareplanApplication(env=IN_MEMORY)
        self.id = uuid4()
        self.sequence = count(1)
        self.contact_ids: list[str] = []

    def plan(self) -> CarePlan | None:
        return self.app.care_plan(self.id)

    def noted(self, change: typing.Callable[[Any, UpstreamRef], None]) -> None:
        sequence = next(self.sequence)
        upstream = UpstreamRef("intake", "intake.person", sequence, str(uuid4()), "test", str(self.id), sequence, "c")
        assert self.app.apply_change(UpstreamChange(upstream, lambda timeline: change(timeline, upstream)))


def ids_on(plan: CarePlan | None, kind: str) -> list[str]:
    return list(getattr(plan, kind)) if plan is not None else []


def one_of_or_any(known: list[str]) -> st.SearchStrategy[str]:
    """Mostly an id already on the record (so the command applies), sometimes any."""
    anything = st.text(printable, min_size=1, max_size=100)
    return st.one_of(st.sampled_from(known), st.sampled_from(known), anything) if known else anything


def step(person: Person, data: st.DataObject, started_on: date, kind: str) -> None:
    plan = person.plan()
    goals = ids_on(plan, "goals")
    app, pid = person.app, person.id

    def on_plan(change: typing.Callable[[CarePlan], Any]) -> None:
        app.change_plan(pid, change, BY, today=started_on)

    if kind == "goal":
        body = data.draw(accepted(SetGoal))
        on_plan(lambda p: p.set_goal(body.goal_id, body.in_own_words, body.team_restatement, body.life_domain,
                                     body.indicators, BY))
    elif kind == "value":
        measured = [goal_id for goal_id in goals if plan.goals[goal_id].indicators]
        goal_id = data.draw(one_of_or_any(measured or goals))
        indicators = list(plan.goals[goal_id].indicators) if goal_id in goals else []
        body = data.draw(accepted(RecordIndicatorValue, indicator=one_of_or_any(indicators)))
        on_plan(lambda p: p.record_indicator_value(goal_id, body.indicator, body.value, body.recorded_on, body.note,
                                                   BY))
    elif kind == "status":
        goal_id = data.draw(one_of_or_any(goals))
        body = data.draw(accepted(ChangeGoalStatus))
        on_plan(lambda p: p.change_goal_status(goal_id, body.status, body.why, BY))
    elif kind == "person":
        body = data.draw(accepted(DescribePerson))
        preferences = Preferences(body.language, body.culture, body.faith, tuple(body.who_to_involve))
        on_plan(lambda p: p.describe_person(body.strengths, preferences, BY))
    elif kind == "support":
        body = data.draw(accepted(AddSupport))
        on_plan(lambda p: p.add_support(body.support_id, body.life_domain, body.description, body.provided_by, BY))
    elif kind == "end_support":
        support_id = data.draw(one_of_or_any(ids_on(plan, "supports")))
        body = data.draw(accepted(EndSupport))
        on_plan(lambda p: p.end_support(support_id, body.because, BY))
    elif kind == "setback":
        body = data.draw(accepted(RecordSetback, goal_ids=st.lists(one_of_or_any(goals), max_size=3)))
        on_plan(lambda p: p.record_setback(body.setback_id, body.occurred_on, body.in_own_words, body.what_helped,
                                           body.goal_ids, BY))
    elif kind == "review":
        body = data.draw(accepted(RecordReview))
        app.review_plan(pid, body.review_id, body.reviewed_on, body.what_changed, body.why, BY)
    elif kind == "agreement":
        body = data.draw(accepted(RecordAgreement))
        on_plan(lambda p: p.record_agreement(body.agrees, body.given_by, body.reason, BY))
    elif kind == "follow_up":
        body = data.draw(accepted(RecordCrisisFollowUp, contact_id=one_of_or_any(person.contact_ids)))
        app.record_crisis_follow_up(pid, body.contact_id, body.followed_up_on, body.note, BY)
    elif kind == "note":
        body = data.draw(accepted(AddNote))
        app.add_medication_note(pid, body.note_id, body.kind, body.text, body.medication, body.choice, "peer", BY)
    elif kind == "decision":
        body = data.draw(accepted(RecordDecision))
        app.record_prescribing_decision(pid, body.decision_id, body.decision, body.medication, body.dose,
                                        body.rationale, body.discussed_with_person, "prescriber", BY)
    elif kind == "safety_plan":
        safety = app.safety_plan(pid)
        current = safety.current_number if safety else 0
        body = data.draw(accepted(ReviseSafetyPlan, based_on_version=st.sampled_from([current, current, current + 1])))
        app.revise_safety_plan(pid, dict(body.sections), body.based_on_version, data.draw(moments), BY)
    elif kind == "screening":
        at, positive, total = data.draw(moments), data.draw(st.sampled_from([True, False, None])), data.draw(
            st.integers(0, 27) | st.none())
        person.noted(lambda t, up: t.note_screening_result(up, "scored", at, str(uuid4()), "PHQ-9", "mental_health",
                                                           total, "moderate", positive, [], True))
    else:
        at = data.draw(moments)
        contact_id = data.draw(st.text(printable, min_size=1, max_size=100))
        person.contact_ids.append(contact_id)
        # Intake sets the follow-up due within a week of the contact (or as the caller says, bounded).
        due = data.draw(st.sampled_from([at + timedelta(days=1), at + timedelta(days=7)]) | moments)
        person.noted(lambda t, up: t.note_crisis_contact(up, "crisis", contact_id, "mobile_crisis_visit", at,
                                                         "resolved_in_community", due))


# -- the property ------------------------------------------------------------------------------------


def reads_back(person: Person, now: datetime) -> None:
    app = person.app
    plan = person.plan()
    if plan is not None:
        due = app.next_review(plan)
        json.loads(plan_view(plan, due).model_dump_json())
    history = app.medication_history([person.id])
    if history is not None:
        json.loads(MedicationView.of(person.id, history).model_dump_json())
    if app.safety_plan(person.id) is not None:
        assert app.safety_plan_version(person.id) is not None

    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 100_000)]
    picture = fold(events)[str(person.id)]
    document = json.dumps(to_document(picture), allow_nan=False)
    assert from_document(json.loads(document)) == picture
    shown = present(picture, now)
    PictureView.model_validate(shown)
    json.dumps(shown, allow_nan=False)
    Bundle.model_validate_json(picture_bundle(shown).model_dump_json())


STEPS = ("goal", "value", "status", "person", "support", "end_support", "setback", "review", "agreement",
         "follow_up", "note", "decision", "safety_plan", "screening", "crisis")
REFUSALS = (InvalidField, StaleVersion)  # what the API answers 422 and 409 to


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data(), started_on=days, now=moments, steps=st.integers(1, 12))
def test_whatever_the_request_models_accept_leaves_a_plan_that_reads_back(data, started_on, now, steps):
    person = Person()
    person.noted(lambda t, up: t.note_person(up, "person_registered", "Registered", now, {"preferred_name": "Ari"}))
    # A goal first, so that later steps (indicator values, setbacks, statuses) have one to refer to.
    for kind in ["goal", *(data.draw(st.sampled_from(STEPS)) for _ in range(steps))]:
        try:
            step(person, data, started_on, kind)
            event(f"{kind}: applied")  # --hypothesis-show-statistics tells how often each step applies
        except REFUSALS as refusal:
            event(f"{kind}: refused ({type(refusal).__name__} {getattr(refusal, 'field', '')})")
    reads_back(person, now)


@settings(max_examples=100, deadline=None)
@given(started_on=days, reviewed_on=days, recorded_on=days, value=st.floats(allow_nan=False, allow_infinity=False))
def test_dates_at_the_edges_of_their_bounds_and_any_finite_value_read_back(started_on, reviewed_on, recorded_on, value):
    """The bounds alone, without the noise of random commands: the plan starts, is reviewed and
    measured on any day the edge accepts."""
    person = Person()
    person.app.change_plan(person.id, lambda p: p.set_goal("g", "Rest", None, None, ["hours"], BY), BY,
                           today=started_on)
    person.app.change_plan(person.id, lambda p: p.record_indicator_value("g", "hours", value, recorded_on, None, BY),
                           BY)
    person.app.review_plan(person.id, "r", reviewed_on, "what changed", "why", BY)
    assert person.plan().next_review([]).due_on >= reviewed_on
    reads_back(person, datetime.combine(LATEST, time.max, tzinfo=timezone.utc))

