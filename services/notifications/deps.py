"""What notifications' routes depend on, as named `Annotated` aliases read from the app's state
(put there by bootstrap.py), so that a test can replace any of them with `dependency_overrides`.

Dependencies are `async def`: FastAPI runs a plain `def` dependency in a worker thread.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from services.notifications.application import NotificationsApplication
from services.notifications.delivery.dispatch import WebhookDispatcher
from services.notifications.subscriptions_app import WebhookSubscriptions
from services.notifications.stream import NoticeStreams
from shared.http import CurrentPrincipal
from shared.runtime import Foundation
from shared.tokens import InvalidToken


async def foundation(request: Request) -> Foundation:
    return request.app.state.foundation


async def application(request: Request) -> NotificationsApplication:
    return request.app.state.foundation.application


ServiceFoundation = Annotated[Foundation, Depends(foundation)]
Application = Annotated[NotificationsApplication, Depends(application)]


async def webhooks(request: Request) -> WebhookSubscriptions:
    return request.app.state.webhooks


async def webhook_dispatch(request: Request) -> WebhookDispatcher:
    return request.app.state.webhook_dispatch


Webhooks = Annotated[WebhookSubscriptions, Depends(webhooks)]
WebhookDispatch = Annotated[WebhookDispatcher, Depends(webhook_dispatch)]
async def notice_streams(request: Request) -> NoticeStreams:
    return request.app.state.notice_streams


Streams = Annotated[NoticeStreams, Depends(notice_streams)]


async def token_expiry(request: Request, _: CurrentPrincipal) -> float:
    """When the caller's token (verified by CurrentPrincipal) expires, in seconds since the epoch."""
    token = request.headers.get("authorization", "").partition(" ")[2]
    try:
        return request.app.state.token_verifier.expiry(token)
    except InvalidToken as error:  # it expired a moment after it was verified
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"invalid token: {error}",
                            headers={"WWW-Authenticate": "Bearer"}) from None


TokenExpiry = Annotated[float, Depends(token_expiry)]
