"""One person's timeline as the care team sees it, built from what other services publish."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from eventsourcing.domain import event

from shared.domain import UpstreamRef
from shared.following import PersonFollower


@dataclass(frozen=True)
class TimelineEntry:
    source: str
    sequence: int
    kind: str
    summary: str
    occurred_at: datetime


class Timeline(PersonFollower):
    def __init__(self, person_id) -> None:  # noqa: ANN001 - the id type comes from PersonFollower
        super().__init__(person_id)
        self.entries: list[TimelineEntry] = []

    @event("EntryAdded")
    def add_entry(self, upstream: UpstreamRef, kind: str, summary: str, occurred_at: datetime) -> None:
        self._advance(upstream)
        self.entries.append(TimelineEntry(upstream.source, upstream.sequence, kind, summary, occurred_at))
