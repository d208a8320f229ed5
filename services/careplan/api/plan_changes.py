"""What every care plan route does around its one application call: the caller's access checked,
the domain's refusals answered as HTTP, and the whole plan as it now is in the answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from fastapi import HTTPException, Response, status

from services.careplan.api.access import TeamAccess
from services.careplan.api.plan_views import CarePlanView, plan_view
from services.careplan.application import CareplanApplication
from services.careplan.domain.merged_history import MergedPlan
from services.careplan.domain.plan import InvalidPlanChange, NotThePersonsChoice
from services.careplan.domain.reviews import NextReview
from shared.access import Principal, Right
from shared.http import invalid_field
from shared.runtime import Foundation


class PlanChanges:
    def __init__(self, foundation: Foundation, application: CareplanApplication, authorized: TeamAccess) -> None:
        self._foundation = foundation
        self._application = application
        self._authorized = authorized

    async def view(self, person_id: UUID, reader: Principal, records: list[UUID] | None = None) -> CarePlanView:
        """The plan as it now is with its next review (404 if the person has none), shown with the
        goals of every record merged into the person's (`records`: as access found them, else
        looked up) carried over, and substance-use goals and supports withheld from a reader who
        may not see Part 2 records (a member from another program, without consent)."""
        def load() -> tuple[MergedPlan, NextReview, bool] | None:
            merged = self._application.merged_care_plan(records or self._application.records_of(person_id))
            if merged is None:
                return None
            part2_shown = self._application.may_see_part2(person_id, reader.subject, datetime.now(timezone.utc))
            return merged, self._application.next_review(merged.plan), part2_shown

        found = await self._foundation.run_sync(load)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
        merged, due, part2_shown = found
        return plan_view(merged.plan, due, merged, person_id, part2_shown)

    async def change(self, principal: Principal, right: Right, person_id: UUID, response: Response,
                     command: Callable[..., bool], *args: Any) -> CarePlanView:
        """Run `command(person_id, *args)` once the caller may; a command that changed nothing
        (a retry of what is already recorded) answers 200 instead of the route's status."""
        await self._authorized(principal, right, person_id)
        try:
            changed = await self._foundation.run_sync(command, person_id, *args)
        except NotThePersonsChoice as refusal:  # only the person marks what is shared, once written
            raise HTTPException(status.HTTP_403_FORBIDDEN, str(refusal)) from None
        except InvalidPlanChange as error:
            raise invalid_field(error.field, error.message) from None
        if changed is False:
            response.status_code = status.HTTP_200_OK
        return await self.view(person_id, principal)
