"""`carecoord rebuild-picture`: careplan's integrated pictures replayed from zero, with a progress
bar (positions, rate, time left) on stderr so that stdout keeps only the result."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable

from pydantic import SecretStr
from rich.console import Console
from rich.progress import Progress

from carecoord.dev import kept_dev_value
from carecoord.progress import positions_progress, report_to
from services.careplan.bootstrap import CareplanSettings
from services.careplan.picture.projection import rebuild_pictures

__all__ = ["picture_progress", "rebuild_picture", "report_to"]


def picture_progress(console: Console, get_time: Callable[[], float] | None = None) -> Progress:
    return positions_progress(console, get_time)


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
