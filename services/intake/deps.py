"""What intake's routes depend on, as named `Annotated` aliases read from the app's state (put
there by bootstrap.py through build_http), so that a test can replace any of them with
`dependency_overrides`. `async def`: FastAPI runs a plain `def` dependency in a worker thread."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.intake.agency_commands import AgencyCommands
from services.intake.application import IntakeApplication
from shared.runtime import Foundation


async def foundation(request: Request) -> Foundation:
    return request.app.state.foundation


async def application(request: Request) -> IntakeApplication:
    return request.app.state.foundation.application


async def agency_commands(request: Request) -> AgencyCommands:
    return request.app.state.agency_commands


ServiceFoundation = Annotated[Foundation, Depends(foundation)]
Application = Annotated[IntakeApplication, Depends(application)]
Commands = Annotated[AgencyCommands, Depends(agency_commands)]
