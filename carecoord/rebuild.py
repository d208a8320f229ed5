"""`carecoord rebuild-picture`: careplan's integrated pictures replayed from the log, with a progress
bar (positions, rate, time left) on stderr so that stdout keeps only the result. A rebuild that was
stopped goes on from where it stopped when started again (`--from-scratch` starts over)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from rich.console import Console
from rich.progress import Progress

from carecoord.careplan_settings import NO_KEY, careplan_settings
from carecoord.progress import positions_progress, report_to
from services.careplan.picture.projection import RebuildRunning, rebuild_pictures

__all__ = ["picture_progress", "rebuild_picture", "report_to"]


def picture_progress(console: Console, get_time: Callable[[], float] | None = None) -> Progress:
    return positions_progress(console, get_time)


def rebuild_picture(from_scratch: bool = False) -> int:
    """DATABASE_URL and EVENT_CIPHER_KEY as the services have them (the key `carecoord run` keeps
    in .dev/ if none is set). Exit status 3 when another rebuild is under way."""
    settings = careplan_settings()
    if settings is None:
        print(NO_KEY, file=sys.stderr)
        return 2
    started_at: list[int] = []
    with picture_progress(Console(stderr=True)) as progress:
        bar = report_to(progress, "rebuilding pictures")

        def report(position: int, last: int) -> None:
            started_at[:] = started_at or [position]
            bar(position, last)

        try:
            replayed = asyncio.run(rebuild_pictures(settings, report, from_scratch))
        except RebuildRunning as busy:
            print(f"{busy}: not started", file=sys.stderr)
            return 3
    resumed = f" (resumed at position {started_at[0]})" if started_at and started_at[0] else ""
    print(f"rebuilt the integrated pictures from {replayed} events{resumed}")
    return 0
