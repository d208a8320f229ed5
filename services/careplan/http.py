"""Careplan's HTTP API."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from services.careplan.application import CareplanApplication
from shared.runtime import Service


class TimelineEntryView(BaseModel):
    source: str
    sequence: int
    kind: str
    summary: str
    occurred_at: datetime


class TimelineView(BaseModel):
    person_id: UUID
    entries: list[TimelineEntryView]


def timeline_router(service: Service, application: CareplanApplication) -> APIRouter:
    router = APIRouter(prefix="/people", tags=["timeline"])

    @router.get("/{person_id}/timeline", response_model=TimelineView)
    async def get_timeline(person_id: UUID):
        entries = await service.run_sync(application.timeline, person_id)
        if entries is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no timeline for person {person_id}")
        return TimelineView(
            person_id=person_id,
            entries=[TimelineEntryView(source=e.source, sequence=e.sequence, kind=e.kind, summary=e.summary,
                                       occurred_at=e.occurred_at) for e in entries],
        )

    return router
