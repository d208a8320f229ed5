"""Notifications' HTTP API."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from services.notifications.application import NotificationsApplication
from shared.runtime import Service


class DueNotificationView(BaseModel):
    notification_id: str
    kind: str
    audience: str
    message: str
    due_at: datetime


class DueNotificationsView(BaseModel):
    person_id: UUID
    due: list[DueNotificationView]


def notifications_router(service: Service, application: NotificationsApplication) -> APIRouter:
    router = APIRouter(prefix="/people", tags=["notifications"])

    @router.get("/{person_id}/notifications", response_model=DueNotificationsView)
    async def get_due_notifications(person_id: UUID):
        due = await service.run_sync(application.due_notifications, person_id)
        if due is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no notifications for person {person_id}")
        return DueNotificationsView(
            person_id=person_id,
            due=[DueNotificationView(notification_id=n.notification_id, kind=n.kind, audience=n.audience,
                                     message=n.message, due_at=n.due_at) for n in due],
        )

    return router
