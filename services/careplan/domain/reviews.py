"""When a care plan is next due for review.

On a schedule (by default every 90 days after the last review, or after the plan started), and at
once when intake reports something the plan should answer to: a new positive screening or a crisis
contact. A review records the prompts it answers; a prompt no review has answered keeps a review due,
even one that reached careplan only after the last review (events can arrive late).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

REVIEW_INTERVAL = timedelta(days=90)


@dataclass(frozen=True)
class ReviewPrompt:
    """Something intake reported that the plan should be reviewed for."""

    reason: str  # "positive_screening" or "crisis_contact"
    reference: str  # the screening or crisis contact id
    on: date

    @property
    def key(self) -> str:
        return f"{self.reason}:{self.reference}"


@dataclass(frozen=True)
class NextReview:
    due_on: date
    prompted_by: tuple[str, ...]  # "scheduled", or "<reason>:<reference>" for each open prompt


def next_review(started_on: date, last_reviewed_on: date, prompts: Iterable[ReviewPrompt],
                answered: Iterable[str] = (), interval: timedelta = REVIEW_INTERVAL) -> NextReview:
    """`answered`: the prompt keys earlier reviews recorded as answered. What happened before the
    plan started is what it was written with: those prompts are answered by the plan itself."""
    done = set(answered)
    open_prompts = sorted((p for p in prompts if p.key not in done and p.on >= started_on), key=lambda p: p.on)
    if open_prompts:
        return NextReview(open_prompts[0].on, tuple(p.key for p in open_prompts))
    return NextReview(scheduled_after(last_reviewed_on, interval), ("scheduled",))


def scheduled_after(reviewed_on: date, interval: timedelta = REVIEW_INTERVAL) -> date:
    """The scheduled review after one on `reviewed_on`. Plans refuse days this would overflow from
    (`leaves_room_for_review`), but a store written before they did may hold one: such a plan is
    due on the calendar's last day rather than unreadable."""
    try:
        return reviewed_on + interval
    except OverflowError:
        return date.max


def leaves_room_for_review(on: date, interval: timedelta = REVIEW_INTERVAL) -> bool:
    """Whether a review can be scheduled after `on` within the calendar."""
    return on <= date.max - interval
