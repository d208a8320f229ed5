"""Checking answers against an instrument, and the reasoning every instrument shares."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import product
from typing import TypeVar

from .result import Answer, InvalidAnswers

T = TypeVar("T")

YES_NO = (False, True)


def check_known_items(instrument: str, answers: Mapping[str, Answer], items: Sequence[str]) -> None:
    for item in answers:
        if item not in items:
            raise InvalidAnswers(item, f"{instrument} has no such item; its items are {', '.join(items)}")


def check_on_scale(item: str, answer: Answer, highest: int) -> None:
    if answer is None:
        return
    # bool is a subclass of int in Python: a yes/no must not pass as 1 on a numeric scale.
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise InvalidAnswers(item, f"expected a whole number from 0 to {highest}, got {answer!r}")
    if not 0 <= answer <= highest:
        raise InvalidAnswers(item, f"{answer} is outside the scale 0 to {highest}")


def check_yes_no(item: str, answer: Answer) -> None:
    if answer is not None and not isinstance(answer, bool):
        raise InvalidAnswers(item, f"expected yes or no (true or false), got {answer!r}")


def check_not_asked(item: str, answer: Answer, because: str) -> None:
    # Skip logic is not missing data: an answer to a question the skip logic excludes is refused
    # (a 422 naming the field), never silently scored.
    if answer is not None:
        raise InvalidAnswers(item, f"is not asked when {because}, so it cannot be answered")


def with_declined(answers: Mapping[str, Answer], items: Sequence[str]) -> dict[str, Answer]:
    """Every item of the instrument, a missing key counting as skipped, that is declined."""
    return {item: answers.get(item) for item in items}


def round_half_up(numerator: int, denominator: int) -> int:
    # Integer arithmetic, because Python's round() sends halves to the even neighbour (round(4.5)
    # is 4) where the NHS proration rule sends them up.
    return (2 * numerator + denominator) // (2 * denominator)


def band_of(total: int, bands: Sequence[tuple[int, str]]) -> str:
    """The band whose lower bound is the highest not above the total; bands go low to high."""
    return [name for lowest, name in bands if lowest <= total][-1]


def certain(outcomes: Iterable[T]) -> T | None:
    """The outcome if every possibility gives the same one, else None (report only what is certain)."""
    distinct = set(outcomes)
    return distinct.pop() if len(distinct) == 1 else None


def every_completion(
    answers: Mapping[str, Answer], choices: Callable[[str], Sequence[Answer]]
) -> Iterable[dict[str, Answer]]:
    """Every way the declined items could have been answered, the given answers kept as they are.

    Small by construction (at most 2**10 for the DAST-10); the caller's scoring applies the skip
    logic, so filling an item that would not have been asked changes nothing.
    """
    open_items = [item for item, answer in answers.items() if answer is None]
    for values in product(*(choices(item) for item in open_items)):
        yield {**answers, **dict(zip(open_items, values))}
