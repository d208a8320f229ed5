"""`carecoord audit as-of PERSON TIME`: careplan's record of a person as it was at a moment, rebuilt
from careplan's events up to it, printed as the JSON `GET /audit/people/{id}/as-of?at=` answers."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from services.careplan.api.as_of import as_of_view
from services.careplan.application import CareplanApplication
from services.careplan.as_of import record_as_of
from services.careplan.bootstrap import CareplanSettings
from shared.eventstore import ensure_schema


def record_as_of_document(settings: CareplanSettings, person_id: UUID, at: datetime) -> dict[str, Any] | None:
    """The record as JSON values (None: careplan had not heard of the person by then). Raises
    InTheFuture for a moment after now."""
    ensure_schema(settings)
    application = CareplanApplication(env=settings.eventsourcing_env())
    try:
        record = record_as_of(application, person_id, at, datetime.now(timezone.utc))
    finally:
        application.close()
    return None if record is None else as_of_view(record).model_dump(mode="json")
