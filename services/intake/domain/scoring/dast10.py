"""DAST-10 (Skinner 1982 and its published scoring table): 10 yes/no items, item 3 reverse-scored."""

from __future__ import annotations

from collections.abc import Mapping

from .answers import YES_NO, band_of, certain, check_known_items, check_yes_no, every_completion, with_declined
from .result import SUBSTANCE_USE, Answer, ScreeningResult

ITEMS = tuple(f"item{n}" for n in range(1, 11))
# Item 3 asks whether the person can always stop using drugs when they want to: "no" is the problem
# answer there, "yes" everywhere else.
PROBLEM_ANSWER = {item: item != "item3" for item in ITEMS}
BANDS = ((0, "none"), (1, "low"), (3, "moderate"), (6, "substantial"), (9, "severe"))
POSITIVE_FROM = 3


def score_dast10(answers: Mapping[str, Answer]) -> ScreeningResult:
    answers = checked_answers(answers)
    band: str | None
    positive: bool | None
    if None not in answers.values():
        total = total_of(answers)
        band, positive, complete = band_of(total, BANDS), total >= POSITIVE_FROM, True
    else:
        # No published missing-item rule, so no total; report the band and positive only if every
        # answer to the declined items gives the same one.
        possible = {total_of(c) for c in every_completion(answers, lambda _: YES_NO)}
        total, complete = None, False
        band = certain(band_of(t, BANDS) for t in possible)
        positive = certain(t >= POSITIVE_FROM for t in possible)
    return ScreeningResult("DAST-10", SUBSTANCE_USE, total, band, positive, (), complete)


def checked_answers(answers: Mapping[str, Answer]) -> dict[str, Answer]:
    check_known_items("DAST-10", answers, ITEMS)
    answers = with_declined(answers, ITEMS)
    for item, answer in answers.items():
        check_yes_no(item, answer)
    return answers


def total_of(answers: Mapping[str, Answer]) -> int:
    return sum(answers[item] is PROBLEM_ANSWER[item] for item in ITEMS)
