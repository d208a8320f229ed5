"""C-SSRS screener (Columbia screener form and triage guidelines): questions 1-6; a risk level, no total.

Yes to 2 asks 3, 4, 5 and 6; no to 2 goes to 6; question 6 (behaviour) is followed by "within the
past 3 months?" only when it is answered yes.
"""

from __future__ import annotations

from collections.abc import Mapping

from .answers import check_known_items, check_not_asked, check_yes_no, with_declined
from .result import SUICIDE_RISK, Answer, ScreeningResult

ITEMS = ("q1", "q2", "q3", "q4", "q5", "q6", "q6_recent")
AFTER_YES_TO_Q2 = ("q3", "q4", "q5")
LEVELS = ("none", "low", "moderate", "high")  # lowest to highest


def score_cssrs(answers: Mapping[str, Answer]) -> ScreeningResult:
    answers = checked_answers(answers)
    declined = declined_when_asked(answers)
    established = level_of(answers)
    highest_possible = level_of({**answers, **{item: True for item in declined}})
    flags = set()
    if rank(highest_possible) > rank(established):
        flags.add("unanswered_could_raise_risk")
    if established == "high":
        flags.add("high_risk")
    if answers["q6"] and answers["q6_recent"]:
        flags.add("recent_behavior")
    return ScreeningResult(
        "C-SSRS", SUICIDE_RISK, None, reported_level(answers, declined, established),
        positive_of(established, highest_possible), tuple(sorted(flags)), not declined,
    )


def checked_answers(answers: Mapping[str, Answer]) -> dict[str, Answer]:
    check_known_items("C-SSRS", answers, ITEMS)
    answers = with_declined(answers, ITEMS)
    for item, answer in answers.items():
        check_yes_no(item, answer)
    if answers["q2"] is False:
        for item in AFTER_YES_TO_Q2:
            check_not_asked(item, answers[item], "q2 is false (no to question 2 goes to question 6)")
    if answers["q6"] is not True:
        check_not_asked("q6_recent", answers["q6_recent"], "q6 is not true")
    return answers


def declined_when_asked(answers: Mapping[str, Answer]) -> list[str]:
    # Chosen where the form is silent: only a "no" skips a follow-up. A declined q2 leaves 3-5 open,
    # and a declined q6 leaves "within the past 3 months?" open, so either could still raise the risk.
    asked = ["q1", "q2", "q6"]
    if answers["q2"] is not False:
        asked += AFTER_YES_TO_Q2
    if answers["q6"] is not False:
        asked.append("q6_recent")
    return [item for item in ITEMS if item in asked and answers[item] is None]


def level_of(answers: Mapping[str, Answer]) -> str:
    """The highest level among the "yes" answers; a declined question counts as no "yes"."""
    if answers["q4"] or answers["q5"] or (answers["q6"] and answers["q6_recent"]):
        return "high"
    # Yes to 6 with its timing declined is at least moderate: it happened, if not known to be recent.
    if answers["q3"] or answers["q6"]:
        return "moderate"
    if answers["q1"] or answers["q2"]:
        return "low"
    return "none"


def reported_level(answers: Mapping[str, Answer], declined: list[str], established: str) -> str | None:
    # No "yes" and something declined gives no level; otherwise the level the "yes" answers
    # establish, which is certain as a lower bound even when a declined question could raise it.
    if established == "none" and declined:
        return None
    return established


def positive_of(established: str, highest_possible: str) -> bool | None:
    # Positive means high risk: known once a "yes" establishes it, unknown while a declined
    # question could still make it high.
    if established == "high":
        return True
    return None if highest_possible == "high" else False


def rank(level: str) -> int:
    return LEVELS.index(level)
