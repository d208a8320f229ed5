"""What scoring one screening produces, and the ways a scoring request can be refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# An item answer: a number on the instrument's scale, yes/no, or None when the person declined
# or skipped it ("prefer not to answer"): recorded as declined, never guessed.
Answer = int | bool | None

MENTAL_HEALTH = "mental_health"
SUBSTANCE_USE = "substance_use"
TRAUMA = "trauma"
SUICIDE_RISK = "suicide_risk"

# The flags that oblige intake to publish an urgent event (SCREENING.md, C-SSRS risk level: "High
# risk, or `suicide_risk` from PHQ-9, publishes an urgent event").
URGENT_FLAGS = frozenset({"suicide_risk", "high_risk"})


@dataclass(frozen=True)
class ScreeningResult:
    instrument: str
    domain: str
    # None when the rules allow no total (always None for the C-SSRS, which has none).
    total: int | None
    # Severity band, or the C-SSRS risk level; None when uncertain or the instrument has no bands.
    band: str | None
    # None when it cannot be known for certain.
    positive: bool | None
    # Sorted, so that equal results compare equal whatever order the rules raised them in.
    flags: tuple[str, ...]
    # Every item that should have been asked was answered.
    complete: bool

    @property
    def urgent(self) -> bool:
        return not URGENT_FLAGS.isdisjoint(self.flags)

    def as_stored(self) -> dict[str, Any]:
        """Plain data, as an event stores it: it must read back the same even if this class changes."""
        return {"instrument": self.instrument, "domain": self.domain, "total": self.total, "band": self.band,
                "positive": self.positive, "flags": list(self.flags), "complete": self.complete}

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> ScreeningResult:
        return cls(**{**stored, "flags": tuple(stored["flags"])})


class InvalidAnswers(ValueError):
    """Answers that do not fit the instrument; names the offending item."""

    def __init__(self, item: str, message: str) -> None:
        super().__init__(f"{item}: {message}")
        self.item = item
        self.message = message


class InvalidSettings(ValueError):
    """A scoring setting outside what the published sources support."""


@dataclass(frozen=True)
class ScoringSettings:
    # 3 is the most sensitive cutoff (the default), 4 the most efficient (Prins et al. 2016).
    pc_ptsd5_cutoff: int = 3

    def __post_init__(self) -> None:
        self.check_pc_ptsd5_cutoff(self.pc_ptsd5_cutoff)

    @staticmethod
    def check_pc_ptsd5_cutoff(cutoff: int) -> None:
        # A cutoff of 0 would call everyone positive and one above 5 no one: both silently wrong.
        if isinstance(cutoff, bool) or not isinstance(cutoff, int) or not 1 <= cutoff <= 5:
            raise InvalidSettings(f"pc_ptsd5_cutoff must be a whole number from 1 to 5, got {cutoff!r}")
