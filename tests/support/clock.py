"""A clock tests move by hand, for rules about time without waiting for it to pass."""

from __future__ import annotations


class FakeClock:
    """Seconds since the epoch, standing still until advanced; call it like `time.time`."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
