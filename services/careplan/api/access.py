"""Who may use careplan's endpoints on whose record: the person's care team decides."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

from services.careplan.application import CareplanApplication
from shared.access import Principal, RecordContext, Right, Role
from shared.http import authorize_request
from shared.runtime import Foundation


class TeamAccess:
    def __init__(self, foundation: Foundation, application: CareplanApplication) -> None:
        self._foundation = foundation
        self._application = application

    async def __call__(self, principal: Principal, right: Right, person_id: UUID) -> dict[str, str]:
        """The person's care team, once the caller is allowed `right` on this person's record
        (403 naming the right, or 404 outside their reach)."""
        # Only the person's own token needs the records merged into this one (it may name any).
        records = [person_id] if principal.role is not Role.PERSON else None
        team, _ = await self._authorized(principal, right, person_id, records)
        return team

    async def records(self, principal: Principal, right: Right, person_id: UUID) -> list[UUID]:
        """This record and those merged into it (survivor first), once the caller is allowed `right`."""
        _, records = await self._authorized(principal, right, person_id, None)
        return records

    async def _authorized(self, principal: Principal, right: Right, person_id: UUID,
                          records: list[UUID] | None) -> tuple[dict[str, str], list[UUID]]:
        def load() -> tuple[dict[str, str], list[UUID]]:
            return (self._application.care_team(person_id),
                    records if records is not None else self._application.records_of(person_id))

        team, found = await self._foundation.run_sync(load)
        authorize_request(principal, right, RecordContext(person_id, frozenset(team),
                                                          also_person_ids=frozenset(found[1:])))
        return team, found

    async def may_see_part2(self, principal: Principal, person_id: UUID) -> bool:
        """Whether this (authorized) reader is shown the person's Part 2 records now (shared/part2.py)."""
        return await self._foundation.run_sync(self._application.may_see_part2, person_id, principal.subject,
                                               datetime.now(timezone.utc))


def acting_role(principal: Principal, team: dict[str, str]) -> str:
    """The role someone acts in on this person's care: their role on the team (a physician on the
    team may hold a clinician's login), or "person" for the person themselves."""
    if principal.role is Role.PERSON:
        return "person"
    return team.get(principal.subject, principal.role.value)
