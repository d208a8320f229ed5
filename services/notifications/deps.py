"""What notifications' routes depend on, as named `Annotated` aliases read from the app's state
(put there by bootstrap.py), so that a test can replace any of them with `dependency_overrides`.

Dependencies are `async def`: FastAPI runs a plain `def` dependency in a worker thread.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.notifications.application import NotificationsApplication
from services.notifications.stream import NoticeStreams
from shared.runtime import Foundation


async def foundation(request: Request) -> Foundation:
    return request.app.state.foundation


async def application(request: Request) -> NotificationsApplication:
    return request.app.state.foundation.application


ServiceFoundation = Annotated[Foundation, Depends(foundation)]
Application = Annotated[NotificationsApplication, Depends(application)]


async def notice_streams(request: Request) -> NoticeStreams:
    return request.app.state.notice_streams


Streams = Annotated[NoticeStreams, Depends(notice_streams)]
