"""Care plan use cases (for now: the per-person timeline). Synchronous, like all eventsourcing code."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.careplan.domain.timeline import Timeline, TimelineEntry
from shared.domain import UpstreamRef
from shared.following import FollowerApplication, UpstreamChange


class CareplanApplication(FollowerApplication[Timeline]):
    name = "Careplan"
    follower_class = Timeline

    @staticmethod
    def timeline_entry(upstream: UpstreamRef, kind: str, summary: str, occurred_at: datetime) -> UpstreamChange:
        return UpstreamChange(upstream, lambda timeline: timeline.add_entry(upstream, kind, summary, occurred_at))

    def add_to_timeline(self, upstream: UpstreamRef, kind: str, summary: str, occurred_at: datetime) -> bool:
        return self.apply_change(self.timeline_entry(upstream, kind, summary, occurred_at))

    def timeline(self, person_id: UUID) -> list[TimelineEntry] | None:
        found = self.follower(person_id)
        return None if found is None else list(found.entries)
