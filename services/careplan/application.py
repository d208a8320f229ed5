"""Care plan use cases (for now: the per-person timeline). Synchronous, like all eventsourcing code."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError
from eventsourcing.utils import retry

from services.careplan.domain.care_team import CareTeam
from services.careplan.domain.timeline import Timeline, TimelineEntry
from shared.domain import Provenance, UpstreamRef
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

    @retry(RecordConflictError, max_attempts=5, wait=0.01)
    def add_team_member(self, person_id: UUID, member_id: str, role: str, provenance: Provenance) -> bool:
        team = self._care_team(person_id) or CareTeam(person_id, provenance)
        changed = team.add_member(member_id, role, provenance)
        self.save(team)
        return changed

    @retry(RecordConflictError, max_attempts=5, wait=0.01)
    def remove_team_member(self, person_id: UUID, member_id: str, provenance: Provenance) -> None:
        team = self._care_team(person_id) or CareTeam(person_id, provenance)
        team.remove_member(member_id, provenance)
        self.save(team)

    def care_team(self, person_id: UUID) -> dict[str, str]:
        """Member id -> role, as of now (empty if no team was formed)."""
        team = self._care_team(person_id)
        return dict(team.members) if team else {}

    def _care_team(self, person_id: UUID) -> CareTeam | None:
        try:
            return self.repository.get(CareTeam.create_id(person_id))
        except AggregateNotFoundError:
            return None
