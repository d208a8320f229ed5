"""Which records are one person, as intake's merges (and their undoing) say: the one place careplan
looks it up. Decided by events only: the timeline of each record notes `DuplicateMergedIn` (the
survivor), `MergedAway` (the duplicate) and `MergeUndoneNoted` (both), in the person's order, so a
rebuild from the store gives the same answer as the live service.

- A request for a merged-away record is answered with the survivor's (`survivor_of`, used by the
  HTTP layer before routing: services/careplan/api/merged_ids.py).
- The survivor is shown with every record merged into it (`records_of`), each entry saying which
  record it came from.
- Merging joins the duplicate's care team to the survivor's (`team_merge`), recorded on the
  survivor's `CareTeam` in the same transaction as the timeline's note and its tracking, so it
  happens exactly once; undoing it takes off those who joined through it (`team_unmerge`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.careplan.domain.care_team import CareTeam
from services.careplan.domain.timeline import Timeline
from shared.domain import Provenance, UpstreamRef
from shared.merge_notes import DUPLICATES_NOTES, MERGED_INTO_NOTES, duplicates, merged_into

# A chain of merges (A into B, then B into C) is followed this far; longer chains are a data error.
MAX_CHAIN = 16


class MergedRecords:
    """A mixin of CareplanApplication (a FollowerApplication[Timeline])."""

    follower_events: Callable[..., list[Any]]
    check_out: Callable[[UUID], Any]
    read: Callable[[UUID], Any]

    def survivor_of(self, person_id: UUID) -> UUID:
        """The record that stands for this person now: itself, unless merged away (to the end of a
        chain of merges, as intake's 409 names it)."""
        current = person_id
        for _ in range(MAX_CHAIN):
            into = self._merged_into(current)
            if into is None:
                return current
            current = into
        return current

    def records_of(self, person_id: UUID) -> list[UUID]:
        """This record and every record merged into it (and into those), survivor first."""
        records = [person_id]
        for record in records:  # grows as duplicates' own duplicates are found
            if len(records) > MAX_CHAIN:
                break
            records += [duplicate for duplicate in self._duplicates_of(record) if duplicate not in records]
        return records

    def _merged_into(self, person_id: UUID) -> UUID | None:
        return merged_into(person_id, self.follower_events(person_id, *MERGED_INTO_NOTES))

    def _duplicates_of(self, person_id: UUID) -> list[UUID]:
        return duplicates(self.follower_events(person_id, *DUPLICATES_NOTES))

    # -- the care teams, alongside the timeline's note ---------------------------------------------

    def team_merge(self, upstream: UpstreamRef, duplicate_id: UUID) -> Callable[[Timeline], Sequence[Any]]:
        """What a merge does to the survivor's care team: the union with the duplicate's (see
        `CareTeam.join_from_merged_team`). Nothing when the duplicate had no team."""
        def merge(survivor_timeline: Timeline) -> Sequence[Any]:
            duplicate_team = self._stored_team(duplicate_id)
            if duplicate_team is None or not duplicate_team.members:
                return []
            provenance = _merge_provenance(upstream)
            team = self._team_to_change(UUID(upstream.person_id), provenance)
            changed = team.join_from_merged_team(str(duplicate_id), dict(duplicate_team.members), provenance,
                                                 dict(duplicate_team.programs))
            return [team] if changed or team.pending_events else []
        return merge

    def team_unmerge(self, upstream: UpstreamRef, duplicate_id: UUID) -> Callable[[Timeline], Sequence[Any]]:
        """What undoing a merge does to the survivor's care team: those who joined through it leave."""
        def unmerge(survivor_timeline: Timeline) -> Sequence[Any]:
            provenance = _merge_provenance(upstream)
            try:
                team = self.check_out(CareTeam.create_id(UUID(upstream.person_id)))
            except AggregateNotFoundError:
                return []
            return [team] if team.leave_with_undone_merge(str(duplicate_id), provenance) else []
        return unmerge

    def _stored_team(self, person_id: UUID) -> CareTeam | None:
        try:
            return self.read(CareTeam.create_id(person_id))
        except AggregateNotFoundError:
            return None

    def _team_to_change(self, person_id: UUID, provenance: Provenance) -> CareTeam:
        try:
            return self.check_out(CareTeam.create_id(person_id))
        except AggregateNotFoundError:
            return CareTeam(person_id, provenance)


def _merge_provenance(upstream: UpstreamRef) -> Provenance:
    """Intake's merge (or its undoing) caused these team changes: who merged is on intake's events,
    which an auditor reads there; this names the event that caused them."""
    return Provenance(actor_id="intake", actor_role="merge", correlation_id=upstream.correlation_id,
                      causation_id=upstream.event_id)
