"""PHQ-9 (Kroenke, Spitzer & Williams 2001) and GAD-7 (Spitzer et al. 2006): items 0-3, summed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .answers import band_of, certain, check_known_items, check_on_scale, round_half_up, with_declined
from .result import MENTAL_HEALTH, Answer, ScreeningResult

HIGHEST = 3
POSITIVE_FROM = 10
# NHS Data Dictionary: one or two declined items are prorated; more leave no total.
MOST_DECLINED_TO_PRORATE = 2

PHQ9_SCORED = tuple(f"item{n}" for n in range(1, 10))
# Item 10 (how difficult the problems made life) is recorded but never scored, and not required.
PHQ9_ITEMS = (*PHQ9_SCORED, "item10")
PHQ9_BANDS = ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "moderately severe"), (20, "severe"))
SELF_HARM_ITEM = "item9"

GAD7_ITEMS = tuple(f"item{n}" for n in range(1, 8))
GAD7_BANDS = ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe"))


def score_phq9(answers: Mapping[str, Answer]) -> ScreeningResult:
    answers = checked_answers("PHQ-9", answers, PHQ9_ITEMS)
    total, band, positive, flags, complete = summed_scale(answers, PHQ9_SCORED, PHQ9_BANDS)
    flags = flags | self_harm_flags(answers[SELF_HARM_ITEM])
    return ScreeningResult("PHQ-9", MENTAL_HEALTH, total, band, positive, tuple(sorted(flags)), complete)


def score_gad7(answers: Mapping[str, Answer]) -> ScreeningResult:
    answers = checked_answers("GAD-7", answers, GAD7_ITEMS)
    total, band, positive, flags, complete = summed_scale(answers, GAD7_ITEMS, GAD7_BANDS)
    return ScreeningResult("GAD-7", MENTAL_HEALTH, total, band, positive, tuple(sorted(flags)), complete)


def checked_answers(instrument: str, answers: Mapping[str, Answer], items: Sequence[str]) -> dict[str, Answer]:
    check_known_items(instrument, answers, items)
    answers = with_declined(answers, items)
    for item, answer in answers.items():
        check_on_scale(item, answer, HIGHEST)
    return answers


def self_harm_flags(item9: Answer) -> set[str]:
    # Any thought of self-harm raises the flag whatever the total; a declined item 9 means the risk
    # was not assessed, which must never read as "no risk".
    if item9 is None:
        return {"item9_unanswered"}
    return {"suicide_risk"} if item9 > 0 else set()


def summed_scale(
    answers: Mapping[str, Answer], scored: Sequence[str], bands: Sequence[tuple[int, str]]
) -> tuple[int | None, str | None, bool | None, set[str], bool]:
    given = [answer for answer in (answers[item] for item in scored) if answer is not None]
    declined = len(scored) - len(given)
    if declined == 0:
        total, flags = sum(given), set()
    elif declined <= MOST_DECLINED_TO_PRORATE:
        total, flags = round_half_up(sum(given) * len(scored), len(given)), {"prorated"}
    else:
        band, positive = certain_without_total(sum(given), declined, bands)
        return None, band, positive, set(), False
    return total, band_of(total, bands), total >= POSITIVE_FROM, flags, declined == 0


def certain_without_total(
    given_sum: int, declined: int, bands: Sequence[tuple[int, str]]
) -> tuple[str | None, bool | None]:
    # Report only what is certain. Each declined item adds 0 to 3 on its own, so the possible totals
    # are exactly this range: the same as enumerating every answer (4**9 ways) without the cost.
    possible = range(given_sum, given_sum + HIGHEST * declined + 1)
    return certain(band_of(t, bands) for t in possible), certain(t >= POSITIVE_FROM for t in possible)
