"""One person's picture when intake merged other records into theirs: the survivor's picture and
each duplicate's, combined when served. Each record's picture stays the pure fold of its own
events (so a rebuild equals the live one); only this combination knows they are one person.

Every entry says which record it came from (`record_id`). The rules, as docs/architecture.md
states them:
- screenings: the latest result in each domain, from whichever record it came;
- crisis contacts, setbacks, supports, medication notes, prescribing decisions: both histories,
  in time order (the last RECENT where the picture keeps only the recent ones);
- care plan: the survivor's stays current (its goals, review and agreement); the duplicate's goals
  are listed as carried over (`carried_over_goals`), in the person's own words; a survivor with no
  plan shows the duplicate's as its own;
- safety plan: the newest version (by when it was written) is current, whichever record holds it;
- team: the survivor's, which is already the union (careplan recorded it at the merge);
- how the person is named: the survivor's, else a duplicate's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timezone

from services.careplan.picture.document import Json, Picture
from services.careplan.picture.model import RECENT


def combine(survivor: Picture, duplicates: Iterable[Picture] = ()) -> Picture:
    """The survivor's picture with its merged duplicates' folded in, every entry tagged with the
    record it came from (a picture with no duplicates is tagged too, so entries always say)."""
    records = [survivor, *duplicates]
    combined = replace(survivor)  # a shallow copy: every field below is given a new value
    for name in ("preferred_name", "pronouns", "preferred_language"):
        setattr(combined, name, next((getattr(p, name) for p in records if getattr(p, name) is not None), None))
    combined.screenings = {}
    for picture in records:  # survivor first: a tie keeps the survivor's
        for domain, result in picture.screenings.items():
            kept = combined.screenings.get(domain)
            if kept is None or _moment(result["scored_at"]) > _moment(kept["scored_at"]):
                combined.screenings[domain] = _tagged(result, picture)
    combined.crisis_contacts = _in_order(records, "crisis_contacts", "occurred_at")
    combined.crisis_follow_ups = {k: v for p in reversed(records) for k, v in p.crisis_follow_ups.items()}
    combined.review_prompts = [prompt for p in records for prompt in p.review_prompts]
    combined.setbacks = _in_order(records, "setbacks", "occurred_on")[-RECENT:]
    combined.medication_notes = _in_order(records, "medication_notes", "added_at")[-RECENT:]
    combined.prescribing_decisions = _in_order(records, "prescribing_decisions", "decided_at")[-RECENT:]
    combined.supports = {f"{p.person_id}/{key}": _tagged(support, p)
                         for p in records for key, support in p.supports.items()}
    with_plan = next((p for p in records if p.plan is not None), survivor)
    combined.plan, combined.goals = with_plan.plan, {k: _tagged(g, with_plan) for k, g in with_plan.goals.items()}
    combined.carried_over_goals = [_tagged(goal, p) for p in records if p is not with_plan
                                   for goal in p.goals.values()]
    combined.strengths = list(dict.fromkeys(s for p in records for s in p.strengths))
    combined.preferences = next((p.preferences for p in records if p.preferences), {})
    plans = [p for p in records if p.safety_plan is not None]
    newest = max(plans, key=lambda p: _moment(p.safety_plan["written_at"]) if p.safety_plan["written_at"]  # type: ignore[index]
                 else datetime.min.replace(tzinfo=timezone.utc), default=None)
    combined.safety_plan = None if newest is None else _tagged(newest.safety_plan or {}, newest)
    moments = [p.updated_at for p in records if p.updated_at]
    combined.updated_at = max(moments, key=_moment) if moments else None
    return combined


def _tagged(entry: Json, picture: Picture) -> Json:
    return {**entry, "record_id": picture.person_id}


def _in_order(records: list[Picture], name: str, at: str) -> list[Json]:
    entries = [_tagged(entry, p) for p in records for entry in getattr(p, name)]
    return sorted(entries, key=lambda entry: _moment(entry[at]))  # stable: a record's own order stays


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # a day: its start, in UTC
