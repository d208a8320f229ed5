"""What the care team is shown of a person's picture at a given moment: the stored facts, and
what follows from them now (a crisis follow-up due or overdue, co-occurring needs, the next
review, whether the safety plan needs review). Worked out at each read, never stored."""

from __future__ import annotations

from datetime import date, datetime

from services.careplan.domain.reviews import ReviewPrompt, next_review
from services.careplan.domain.safety_plan import needs_review
from services.careplan.domain.timeline import SCREENING_DOMAINS
from services.careplan.picture.document import Json, Picture
from shared.part2 import about_substance_use


def present(picture: Picture, now: datetime, part2_shown: bool = True) -> Json:
    """The picture as served at `now` (aware): facts, and what follows from them at this moment.

    `part2_shown` False (a member from another program without the person's consent,
    shared/part2.py): Part 2 records are left out, and `withheld` counts them by section, so the
    reader sees that something is withheld, never what. Crisis contacts and suicide-risk results
    are never Part 2 records: they are always shown."""
    withheld: dict[str, int] = {}

    def shown(section: str, items: list[Json]) -> list[Json]:
        kept = items if part2_shown else [item for item in items if not _is_part2(section, item)]
        if len(kept) < len(items):
            withheld[section] = len(items) - len(kept)
        return kept

    screenings = shown("screenings", [picture.screenings[d] for d in _domains_in_order(picture.screenings)])
    hidden_ids = ({s["screening_id"] for s in picture.screenings.values()} - {s["screening_id"] for s in screenings}
                  | ({p["reference"] for p in picture.review_prompts if p.get("part2")} if not part2_shown else set()))
    positive_domains = [s["domain"] for s in screenings if s["positive"]]
    contacts = [_with_follow_up_status(contact, picture.crisis_follow_ups.get(contact["contact_id"]), now)
                for contact in picture.crisis_contacts]
    plan = None
    review = None
    if picture.plan is not None:
        agreement = picture.plan["agreement"]
        plan = {
            "started_on": picture.plan["started_on"],
            "last_reviewed_on": picture.plan["last_reviewed_on"],
            "last_review": picture.plan["last_review"],
            "agreement": None if agreement is None else {
                **{k: v for k, v in agreement.items() if k != "at_plan_version"},
                "current": agreement["at_plan_version"] == picture.plan["version"],
            },
        }
        due = next_review(date.fromisoformat(picture.plan["started_on"]),
                          date.fromisoformat(picture.plan["last_reviewed_on"]),
                          [ReviewPrompt(p["reason"], p["reference"], date.fromisoformat(p["on"]))
                           for p in picture.review_prompts])
        # A withheld positive result still makes the review due; which result it was is not said.
        review = {"due_on": due.due_on.isoformat(),
                  "prompted_by": [p for p in due.prompted_by if p.rsplit(":", 1)[-1] not in hidden_ids]}
    return {
        "person_id": picture.person_id,
        "preferred_name": picture.preferred_name,
        "pronouns": picture.pronouns,
        "preferred_language": picture.preferred_language,
        "screenings": screenings,
        "positive_domains": positive_domains,
        # Two or more domains whose latest result is positive.
        "co_occurring_needs": len(positive_domains) >= 2,
        "goals": shown("goals", [goal for goal in picture.goals.values() if goal["status"] == "active"]),
        "carried_over_goals": shown("carried_over_goals", picture.carried_over_goals),
        "supports": shown("supports", [support for support in picture.supports.values()
                                       if support["ended_because"] is None]),
        "strengths": picture.strengths,
        "preferences": picture.preferences or None,
        "recent_setbacks": picture.setbacks,
        "medication_notes": shown("medication_notes", picture.medication_notes),
        "prescribing_decisions": shown("prescribing_decisions", picture.prescribing_decisions),
        "crisis_contacts": contacts,
        "safety_plan": _safety_plan_view(picture),
        "team": [{"member_id": member, "role": role} for member, role in picture.team.items()],
        "plan": plan,
        "next_review": review,
        "updated_at": picture.updated_at,
        "withheld": [{"section": section, "count": count, "reason": WITHHELD_REASON}
                     for section, count in withheld.items()],
    }


WITHHELD_REASON = ("Part 2 substance-use records: shown to members from another program once the person's "
                   "consent names their program or the care team")


def _is_part2(section: str, item: Json) -> bool:
    # Screenings are about substance use by their domain, whatever a picture stored before the
    # marking existed says; the rest by their marking (absent on older pictures: not Part 2 until
    # the picture is rebuilt, `carecoord rebuild-picture`).
    if section == "screenings":
        return about_substance_use(domain=item["domain"])
    return bool(item.get("part2", False))


def _domains_in_order(screenings: dict[str, Json]) -> list[str]:
    known = [d for d in SCREENING_DOMAINS if d in screenings]
    return known + sorted(d for d in screenings if d not in SCREENING_DOMAINS)


def _with_follow_up_status(contact: Json, follow_up: Json | None, now: datetime) -> Json:
    if follow_up is not None:
        status = "followed_up"
    else:
        status = "overdue" if now > datetime.fromisoformat(contact["follow_up_due"]) else "due"
    return {**contact, "follow_up_status": status,
            "followed_up_on": follow_up["followed_up_on"] if follow_up else None,
            "follow_up_note": follow_up["note"] if follow_up else None}


def _safety_plan_view(picture: Picture) -> Json | None:
    if picture.safety_plan is None:
        return None
    written = picture.safety_plan["written_at"]
    written_at = datetime.fromisoformat(written) if written else None
    crises = sorted(((datetime.fromisoformat(c["occurred_at"]), c["contact_id"]) for c in picture.crisis_contacts))
    marked = needs_review(written_at, [at for at, _ in crises])
    since = next((contact_id for at, contact_id in crises if written_at and at > written_at), None)
    return {**picture.safety_plan, "needs_review": marked, "needs_review_since_contact": since if marked else None}
