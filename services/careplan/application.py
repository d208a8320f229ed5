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
        team = self._team_to_change(person_id, provenance)
        changed = team.add_member(member_id, role, provenance)
        self._save_team(team)
        return changed

    @retry(RecordConflictError, max_attempts=5, wait=0.01)
    def remove_team_member(self, person_id: UUID, member_id: str, provenance: Provenance) -> None:
        team = self._team_to_change(person_id, provenance)
        team.remove_member(member_id, provenance)
        self._save_team(team)

    def care_team(self, person_id: UUID) -> dict[str, str]:
        """Member id -> role, as stored now (empty if no team was formed)."""
        try:
            return dict(self.read(CareTeam.create_id(person_id)).members)
        except AggregateNotFoundError:
            return {}

    def _team_to_change(self, person_id: UUID, provenance: Provenance) -> CareTeam:
        try:
            return self.repository.get(CareTeam.create_id(person_id))  # a private copy, from the cache
        except AggregateNotFoundError:
            return CareTeam(person_id, provenance)

    def _save_team(self, team: CareTeam) -> None:
        try:
            self.save(team)
        except RecordConflictError:
            self.forget([team.id])  # another replica changed the team: reload it on retry
            raise
