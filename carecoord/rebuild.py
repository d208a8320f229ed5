"""`carecoord rebuild-picture`: careplan's integrated pictures replayed from zero, with a progress
bar (positions, rate, time left) on stderr so that stdout keeps only the result."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable

from pydantic import SecretStr
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text

from carecoord.dev import kept_dev_value
from services.careplan.bootstrap import CareplanSettings
from services.careplan.picture.projection import rebuild_pictures


class RateColumn(ProgressColumn):
    """Steps per second in a unit of our own (rich's speed column counts bytes)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("?" if speed is None else f"{speed:,.0f} {self.unit}/s", style="progress.data.speed")


def picture_progress(console: Console, get_time: Callable[[], float] | None = None) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn("positions"),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                    console=console, get_time=get_time)


def report_to(progress: Progress, description: str) -> Callable[[int, int], None]:
    """A callback for `PictureProjection.rebuild` (position reached, position to reach)."""
    task = progress.add_task(description, total=None)

    def report(position: int, last: int) -> None:
        progress.update(task, total=last, completed=position)

    return report


def rebuild_picture() -> int:
    """DATABASE_URL and EVENT_CIPHER_KEY as the services have them (the key `carecoord run` keeps
    in .dev/ if none is set)."""
    key = os.environ.get("EVENT_CIPHER_KEY") or kept_dev_value("EVENT_CIPHER_KEY")
    if not key:
        print("EVENT_CIPHER_KEY is not set (and `carecoord run` has kept none in .dev/)", file=sys.stderr)
        return 2
    settings = CareplanSettings(event_cipher_key=SecretStr(key))
    with picture_progress(Console(stderr=True)) as progress:
        replayed = asyncio.run(rebuild_pictures(settings, report_to(progress, "rebuilding pictures")))
    print(f"rebuilt the integrated pictures from {replayed} events")
    return 0
