"""PC-PTSD-5 (Prins et al. 2016): a trauma-exposure question, then 5 yes/no items; no bands."""

from __future__ import annotations

from collections.abc import Mapping

from .answers import YES_NO, certain, check_known_items, check_not_asked, check_yes_no, every_completion, with_declined
from .result import TRAUMA, Answer, ScoringSettings, ScreeningResult

EXPOSURE = "exposure"
SYMPTOM_ITEMS = tuple(f"item{n}" for n in range(1, 6))
ITEMS = (EXPOSURE, *SYMPTOM_ITEMS)


def score_pc_ptsd5(answers: Mapping[str, Answer], settings: ScoringSettings) -> ScreeningResult:
    answers = checked_answers(answers)
    cutoff = settings.pc_ptsd5_cutoff
    complete = not declined_when_asked(answers)
    positive: bool | None
    if complete:
        total = total_of(answers)
        positive = total >= cutoff
    else:
        # No published missing-item rule, so no total. A declined exposure question could be "no",
        # which by the skip logic totals 0 whatever the items say: positive is then certain only
        # when no answer could reach the cutoff.
        total = None
        positive = certain(total_of(c) >= cutoff for c in every_completion(answers, lambda _: YES_NO))
    return ScreeningResult("PC-PTSD-5", TRAUMA, total, None, positive, (), complete)


def checked_answers(answers: Mapping[str, Answer]) -> dict[str, Answer]:
    check_known_items("PC-PTSD-5", answers, ITEMS)
    answers = with_declined(answers, ITEMS)
    for item, answer in answers.items():
        check_yes_no(item, answer)
    if answers[EXPOSURE] is False:
        for item in SYMPTOM_ITEMS:
            check_not_asked(item, answers[item], "exposure is false (no trauma exposure)")
    return answers


def declined_when_asked(answers: Mapping[str, Answer]) -> list[str]:
    asked = (EXPOSURE,) if answers[EXPOSURE] is False else ITEMS
    return [item for item in asked if answers[item] is None]


def total_of(answers: Mapping[str, Answer]) -> int:
    if answers[EXPOSURE] is False:
        return 0
    return sum(answers[item] is True for item in SYMPTOM_ITEMS)
