"""What careplan's routes depend on, as named `Annotated` aliases read from the app's state (put
there by bootstrap.py through build_http), so that a test can replace any of them with
`dependency_overrides`. `async def`: FastAPI runs a plain `def` dependency in a worker thread.

`TeamAccess` and `PlanChanges` are built from the foundation and application dependencies rather
than kept in the state, so that replacing the application replaces what decides access too."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.careplan.api.access import TeamAccess
from services.careplan.api.plan_changes import PlanChanges
from services.careplan.application import CareplanApplication
from services.careplan.picture.projection import PictureStore
from shared.runtime import Foundation


async def foundation(request: Request) -> Foundation:
    return request.app.state.foundation


async def application(request: Request) -> CareplanApplication:
    return request.app.state.foundation.application


async def picture_store(request: Request) -> PictureStore:
    return request.app.state.picture_store


ServiceFoundation = Annotated[Foundation, Depends(foundation)]
Application = Annotated[CareplanApplication, Depends(application)]
Pictures = Annotated[PictureStore, Depends(picture_store)]


async def team_access(foundation: ServiceFoundation, application: Application) -> TeamAccess:
    return TeamAccess(foundation, application)


Access = Annotated[TeamAccess, Depends(team_access)]


async def plan_changes(foundation: ServiceFoundation, application: Application, authorized: Access) -> PlanChanges:
    return PlanChanges(foundation, application, authorized)


Plans = Annotated[PlanChanges, Depends(plan_changes)]
