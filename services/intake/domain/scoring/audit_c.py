"""AUDIT-C (Bush et al. 1998; Bradley et al. 2003/2007; Flentje et al. 2020): 3 items 0-4, no bands."""

from __future__ import annotations

from collections.abc import Mapping

from .answers import certain, check_known_items, check_not_asked, check_on_scale, every_completion, with_declined
from .result import SUBSTANCE_USE, Answer, ScreeningResult

ITEMS = ("item1", "item2", "item3")
HIGHEST = 4
# Item 1 "never" drinks: items 2 and 3 are not asked and the total is 0.
NEVER = 0
CUTOFF_BY_SEX = {"male": 4, "female": 3}
# Flentje et al. 2020 for people who are neither male nor female; the same cutoff is used when sex is
# unknown, and flagged either way.
UNSPECIFIED_SEX_CUTOFF = 3


def score_audit_c(answers: Mapping[str, Answer], sex: str | None) -> ScreeningResult:
    answers = checked_answers(answers)
    cutoff = UNSPECIFIED_SEX_CUTOFF if sex is None else CUTOFF_BY_SEX.get(sex, UNSPECIFIED_SEX_CUTOFF)
    # "A cutoff chosen for unknown sex is flagged": flagged whenever it is applied, for "other" as for
    # unknown, even where the total is on the same side of every sex's cutoff.
    flags = set() if sex in CUTOFF_BY_SEX else {"unspecified_sex_cutoff"}
    complete = not declined_when_asked(answers)
    positive: bool | None
    if complete:
        total = total_of(answers)
        positive = total >= cutoff
    else:
        # No published missing-item rule, so no total; positive only if every answer agrees. A
        # declined item 1 could be "never", which by the skip logic totals 0 whatever items 2-3 say.
        total = None
        positive = certain(possible >= cutoff for possible in possible_totals(answers))
    if positive and answers["item2"] == 0 and answers["item3"] == 0:
        # Published advice: a positive screen from drinking frequency alone warrants reviewing intake.
        flags.add("points_from_item1_only")
    return ScreeningResult("AUDIT-C", SUBSTANCE_USE, total, None, positive, tuple(sorted(flags)), complete)


def checked_answers(answers: Mapping[str, Answer]) -> dict[str, Answer]:
    check_known_items("AUDIT-C", answers, ITEMS)
    answers = with_declined(answers, ITEMS)
    for item, answer in answers.items():
        check_on_scale(item, answer, HIGHEST)
    if answers["item1"] == NEVER:
        check_not_asked("item2", answers["item2"], "item1 is 0 (never)")
        check_not_asked("item3", answers["item3"], "item1 is 0 (never)")
    return answers


def declined_when_asked(answers: Mapping[str, Answer]) -> list[str]:
    asked = ("item1",) if answers["item1"] == NEVER else ITEMS
    return [item for item in asked if answers[item] is None]


def possible_totals(answers: Mapping[str, Answer]) -> set[int]:
    return {total_of(completed) for completed in every_completion(answers, lambda _: range(HIGHEST + 1))}


def total_of(answers: Mapping[str, Answer]) -> int:
    if answers["item1"] == NEVER:
        return 0
    # Only called with every asked item answered (a completion), so `or 0` never stands in for one.
    return sum(answers[item] or 0 for item in ITEMS)
