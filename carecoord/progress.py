"""Progress bars of the front door's long commands (on stderr, so that stdout keeps the result):
positions reached, their rate, time elapsed and left."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Steps per second in a unit of our own (rich's speed column counts bytes)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("?" if speed is None else f"{speed:,.0f} {self.unit}/s", style="progress.data.speed")


def positions_progress(console: Console, get_time: Callable[[], float] | None = None) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn("positions"),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                    console=console, get_time=get_time)


def report_to(progress: Progress, description: str) -> Callable[[int, int], None]:
    """A callback (position reached, position to reach) that moves a new bar of `progress`. The
    first report sets where the bar starts (a resumed rebuild starts part-way), so the rate and
    the time left count only what this run does."""
    task = progress.add_task(description, total=None)
    started = False

    def report(position: int, last: int) -> None:
        nonlocal started
        if not started:
            started = True
            progress.reset(task, total=last, completed=position)
        else:
            progress.update(task, total=last, completed=position)

    return report
