"""When a care plan is next due for review.

On a schedule (by default every 90 days after the last review, or after the plan started), and at
once when intake reports something the plan should answer to: a new positive screening or a crisis
contact. A review answers every prompt that came before it.
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


@dataclass(frozen=True)
class NextReview:
    due_on: date
    prompted_by: tuple[str, ...]  # "scheduled", or "<reason>:<reference>" for each open prompt


def next_review(last_reviewed_on: date, prompts: Iterable[ReviewPrompt],
                interval: timedelta = REVIEW_INTERVAL) -> NextReview:
    # A prompt on the day of the last review is answered by it only if it came before; days are
    # all we have, so a same-day prompt stays open (an extra review beats a missed one).
    open_prompts = sorted((p for p in prompts if p.on >= last_reviewed_on), key=lambda p: p.on)
    scheduled = last_reviewed_on + interval
    if open_prompts and open_prompts[0].on < scheduled:
        return NextReview(open_prompts[0].on, tuple(f"{p.reason}:{p.reference}" for p in open_prompts))
    return NextReview(scheduled, ("scheduled",))
