"""One stored event as a line of a person's history: who did it (actor and role), where (service,
position), what it belongs to (correlation id) and what caused it (causation: the upstream event
it applies, when there is one), with the event's own fields, decrypted.

Plain Python over domain events; the HTTP route (shared/history_http.py) and the auditor's CLI
(carecoord/audit/history.py) both build their lines here, so they say the same thing.

Attribution: an event recorded by a command names its actor (`provenance`). An event a service
recorded because another event reached it (a follower's: `upstream`) was done by the service
itself (actor = the service, role `service`); its correlation id is the upstream event's, and its
cause is that event (`caused_by`: source, position, event id). Anything else (a webhook lane's
attempts) is the service's own doing, with no correlation.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from shared.envelope import stable_event_id
from shared.person_index import event_type, person_of

SERVICE_ROLE = "service"
# Attributes shown as the line's own columns, not among the event's fields.
_COLUMNS = frozenset({"originator_id", "originator_version", "timestamp", "provenance", "upstream", "person_id"})


def plain(value: Any) -> Any:
    """A JSON-ready copy of an event's field."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [plain(item) for item in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return str(value)


def history_line(service: str, position: int, occurred_at: datetime, event: Any, topic: str) -> dict[str, Any]:
    """The line of one stored event (`topic` as stored: its type is read from it, so an event
    class renamed since keeps the name it was recorded under)."""
    provenance = getattr(event, "provenance", None)
    upstream = getattr(event, "upstream", None)
    caused_by = None
    if provenance is not None:
        actor_id, actor_role = provenance.actor_id, provenance.actor_role
        correlation_id, causation_id = provenance.correlation_id, provenance.causation_id
    elif upstream is not None:
        actor_id, actor_role = service, SERVICE_ROLE
        correlation_id, causation_id = upstream.correlation_id, upstream.event_id
        caused_by = {"source": upstream.source, "position": upstream.position, "event_id": upstream.event_id,
                     "type": upstream.event_type}
    else:
        actor_id, actor_role, correlation_id, causation_id = service, SERVICE_ROLE, None, None
    person = person_of(event)
    return {
        "occurred_at": occurred_at.isoformat(),
        "service": service,
        "position": position,
        "type": event_type(topic),
        "event_id": str(stable_event_id(service, event.originator_id, event.originator_version)),
        "aggregate_id": str(event.originator_id),
        "aggregate_version": event.originator_version,
        "person_id": str(person) if person else None,
        "actor_id": actor_id,
        "actor_role": actor_role,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "caused_by": caused_by,
        "data": {name: plain(value) for name, value in vars(event).items() if name not in _COLUMNS},
    }


def as_seen_by_person(line: dict[str, Any], person_id: UUID, internal_types: Iterable[str],
                      internal_fields: Iterable[str]) -> dict[str, Any] | None:
    """The line as the person it is about reads it, or None when the agency marks its type
    staff-internal. Staff-internal details, minimally: the event types and fields the agency
    lists (settings HISTORY_INTERNAL_TYPES, HISTORY_INTERNAL_FIELDS), and who on the staff did
    it: the person sees the role that acted, not the staff member's id (their own id, a
    service's or an agency system's stays)."""
    types = set(internal_types)
    if line["type"] in types or line["type"].rsplit(".", 1)[-1] in types:
        return None
    fields = set(internal_fields)
    seen = {**line, "data": {name: value for name, value in line["data"].items() if name not in fields}}
    if line["actor_role"] not in ("person", SERVICE_ROLE, "agency_system") and line["actor_id"] != str(person_id):
        seen["actor_id"] = None
    return seen
