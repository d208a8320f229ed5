"""`carecoord rebuild-picture`: careplan's integrated pictures replayed from zero, with a progress
bar (positions, rate, time left) on stderr so that stdout keeps only the result."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from rich.console import Console
from rich.progress import Progress

from carecoord.careplan_settings import NO_KEY, careplan_settings
from carecoord.progress import positions_progress, report_to
from services.careplan.picture.projection import rebuild_pictures

__all__ = ["picture_progress", "rebuild_picture", "report_to"]


def picture_progress(console: Console, get_time: Callable[[], float] | None = None) -> Progress:
    return positions_progress(console, get_time)


def rebuild_picture() -> int:
    """DATABASE_URL and EVENT_CIPHER_KEY as the services have them (the key `carecoord run` keeps
    in .dev/ if none is set)."""
    settings = careplan_settings()
    if settings is None:
        print(NO_KEY, file=sys.stderr)
        return 2
    with picture_progress(Console(stderr=True)) as progress:
        replayed = asyncio.run(rebuild_pictures(settings, report_to(progress, "rebuilding pictures")))
    print(f"rebuilt the integrated pictures from {replayed} events")
    return 0
