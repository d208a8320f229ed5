"""The fault suite's table: one row per fault and consumer, printed at the end of the pytest run."""

from __future__ import annotations

from dataclasses import dataclass

from tests.faults.outcomes import Tally

COLUMNS = ("fault", "consumer", "sent", "applied", "duplicates", "lost", "out of order", "recovery (s)",
           "load retries", "slowest ack (s)", "dead letters")


@dataclass(frozen=True)
class Row:
    fault: str
    consumer: str
    tally: Tally
    recovery_seconds: float | None  # None: never caught up within the bound
    retries: int                    # attempts the load generator repeated (no answer, or a 5xx): the fault felt
    slowest: float                  # the longest a command waited for intake's acknowledgement
    dead_letters: str = ""          # what the fault put in dead-letter queues, by queue

    def cells(self) -> tuple[str, ...]:
        recovery = "not recovered" if self.recovery_seconds is None else f"{self.recovery_seconds:.1f}"
        t = self.tally
        return (self.fault, self.consumer, str(t.sent), str(t.applied), str(t.duplicates), str(t.lost),
                str(t.out_of_order), recovery, str(self.retries), f"{self.slowest:.1f}",
                self.dead_letters)


ROWS: list[Row] = []  # filled by the suite, printed by conftest.py's terminal summary


def table(rows: list[Row]) -> str:
    lines = [COLUMNS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    rendered = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]
    rendered.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(rendered)
