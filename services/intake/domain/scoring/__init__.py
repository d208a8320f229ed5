"""Scoring standardized screenings by the published rules in SCREENING.md, exactly.

Plain Python on purpose: the rules decide care, so they are kept apart from storage and transport,
and need nothing beyond the standard library to be read, run and tested.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .audit_c import ITEMS as AUDIT_C_ITEMS
from .audit_c import score_audit_c
from .cssrs import ITEMS as CSSRS_ITEMS
from .cssrs import score_cssrs
from .dast10 import ITEMS as DAST10_ITEMS
from .dast10 import score_dast10
from .pc_ptsd5 import ITEMS as PC_PTSD5_ITEMS
from .pc_ptsd5 import score_pc_ptsd5
from .result import Answer, InvalidAnswers, InvalidSettings, ScoringSettings, ScreeningResult
from .symptom_scales import GAD7_ITEMS, PHQ9_ITEMS, score_gad7, score_phq9

__all__ = [
    "INSTRUMENTS", "Answer", "InvalidAnswers", "InvalidSettings", "ScoringSettings", "ScreeningResult",
    "item_ids", "score",
]

SEXES = ("male", "female", "other")

Scorer = Callable[[Mapping[str, Answer], str | None, ScoringSettings], ScreeningResult]

# Instrument name -> (its item ids, how to score it).
_SCORING: dict[str, tuple[tuple[str, ...], Scorer]] = {
    "PHQ-9": (PHQ9_ITEMS, lambda answers, sex, settings: score_phq9(answers)),
    "GAD-7": (GAD7_ITEMS, lambda answers, sex, settings: score_gad7(answers)),
    "AUDIT-C": (AUDIT_C_ITEMS, lambda answers, sex, settings: score_audit_c(answers, sex)),
    "DAST-10": (DAST10_ITEMS, lambda answers, sex, settings: score_dast10(answers)),
    "PC-PTSD-5": (PC_PTSD5_ITEMS, lambda answers, sex, settings: score_pc_ptsd5(answers, settings)),
    "C-SSRS": (CSSRS_ITEMS, lambda answers, sex, settings: score_cssrs(answers)),
}

INSTRUMENTS: tuple[str, ...] = tuple(_SCORING)


def item_ids(instrument: str) -> tuple[str, ...]:
    """The item ids accepted for an instrument."""
    check_instrument_known(instrument)
    return _SCORING[instrument][0]


def score(
    instrument: str,
    answers: Mapping[str, Answer],
    *,
    sex: str | None = None,
    settings: ScoringSettings = ScoringSettings(),
) -> ScreeningResult:
    """Score one screening; a missing item counts as declined. Raises InvalidAnswers naming the field."""
    check_instrument_known(instrument)
    check_sex_known(sex)
    return _SCORING[instrument][1](answers, sex, settings)


def check_instrument_known(instrument: str) -> None:
    # Named as a field, like any other answer that does not fit, so the API can answer 422 with it.
    if instrument not in _SCORING:
        raise InvalidAnswers("instrument", f"unknown instrument {instrument!r}; known: {', '.join(INSTRUMENTS)}")


def check_sex_known(sex: str | None) -> None:
    # Only AUDIT-C uses sex, but a misspelt value ("M") is refused everywhere rather than silently
    # scored with the cutoff for unknown sex.
    if sex is not None and sex not in SEXES:
        raise InvalidAnswers("sex", f"expected one of {', '.join(SEXES)} or none (unknown), got {sex!r}")
