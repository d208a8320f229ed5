"""The care team's use cases: who is on the person's team, in which role and program, and what the
person's consent directives (on every record merged into theirs) let a member see.

A mixin of CareplanApplication: it relies on the application's `scope_of_practice`, its merged
records (`records_of`) and its timeline followers (`follower_events`, where the directives are).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from services.careplan.aggregate_writes import AggregateWrites
from services.careplan.domain.care_team import CareTeam, Membership, memberships
from services.careplan.domain.medication import ScopeOfPractice
from services.careplan.domain.sharing import CONSENT_EVENTS, directives_from
from shared.consent import ConsentDirective, categories_allowed
from shared.domain import Provenance
from shared.part2 import Program, may_see_part2


class CareTeamUseCases(AggregateWrites):
    scope_of_practice: ScopeOfPractice
    events: Any
    records_of: Callable[[UUID], list[UUID]]
    follower_events: Callable[..., list[Any]]

    def add_team_member(self, person_id: UUID, member_id: str, role: str, provenance: Provenance,
                        program: Program | None = None) -> bool:
        """Add someone to the team (or change their role or program): checked before anything is loaded."""
        self.scope_of_practice.check_may_assign(role, provenance.actor_role)
        consented = bool(categories_allowed(
            self._consents(person_id).values(), "named_person", member_id, datetime.now(timezone.utc)))
        return self._change(CareTeam.create_id(person_id), lambda: CareTeam(person_id, provenance),
                            lambda team: team.add_member(member_id, role, provenance, consented, program))

    def remove_team_member(self, person_id: UUID, member_id: str, provenance: Provenance) -> None:
        self._change(CareTeam.create_id(person_id), lambda: CareTeam(person_id, provenance),
                     lambda team: team.remove_member(member_id, provenance))

    def care_team(self, person_id: UUID) -> dict[str, str]:
        """Member id -> role, as stored now (empty if no team was formed)."""
        team = self._stored(CareTeam.create_id(person_id))
        return dict(team.members) if team else {}

    def joined_through_merge(self, person_id: UUID) -> dict[str, str]:
        """Member id -> the duplicate record whose team they came from when intake merged it."""
        team = self._stored(CareTeam.create_id(person_id))
        return dict(team.joined_through_merge) if team else {}

    def team_programs(self, person_id: UUID) -> dict[str, Program]:
        """Member id -> the program they work in, for members who gave one."""
        team = self._stored(CareTeam.create_id(person_id))
        return dict(team.programs) if team else {}

    def may_see_part2(self, person_id: UUID, reader_id: str, at: datetime) -> bool:
        """Whether this reader (on the team, or the person, an auditor...) may see the person's
        Part 2 records now (shared/part2.py): only a member from another program may not, unless
        a directive in force names their program or the team."""
        program = self.team_programs(person_id).get(reader_id)
        if program is None or program.is_part2:
            return True  # decided without reading the consents
        return may_see_part2(program, self._consents(person_id).values(), at)

    def team_history(self, person_id: UUID) -> list[Membership]:
        """Who was on the team in which role, from when until when (None: still on it)."""
        return memberships(self.events.get(CareTeam.create_id(person_id)))

    def _consents(self, person_id: UUID) -> dict[str, ConsentDirective]:
        """The person's directives, with those given on every record merged into theirs: consent the
        person gave on either record holds for the merged one (as notifications decides too)."""
        directives: dict[str, ConsentDirective] = {}
        for record in self.records_of(person_id):
            directives.update(directives_from(self.follower_events(record, *CONSENT_EVENTS)))
        return directives
