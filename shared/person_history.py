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

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from shared import state_json
from shared.envelope import EVENT_ID_NAMESPACE

SERVICE_ROLE = "service"
# Attributes shown as the line's own columns, not among the event's fields.
STATE_COLUMNS = frozenset({"originator_id", "originator_version", "timestamp", "provenance", "upstream",
                           "person_id", "class_version"})
_NAMESPACE = EVENT_ID_NAMESPACE.bytes
_sha1 = hashlib.sha1


def decode_state(plaintext: bytes) -> dict[str, Any]:
    """A stored event's state, decrypted, as the plain fields it was recorded with (eventsourcing's
    transcoded values as plain JSON: a UUID as its usual string, every other type, such as times,
    dates, provenance and upstream references, as the data it was stored as).

    Not through the domain classes (eventsourcing's mapper): a history shows the event as it was
    recorded, needs no class that may have changed since, and this is the bulk of a history's
    time (decoding into objects and back cost several times as much as this). See
    shared/state_json.py for how it is decoded fast and written back exactly."""
    return state_json.decode_state(plaintext)


# The variant's first hex digit (RFC 9562: its top two bits `10`) for each the hash may give.
_VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def history_line(service: str, position: int, occurred_at: datetime, originator_id: UUID | str, version: int,
                 topic: str, state: dict[str, Any], person_id: UUID | str) -> dict[str, Any]:
    """The line of one stored event (its `state` from `decode_state`; its type read from the
    stored topic, so an event class renamed since keeps the name it was recorded under). The ids
    may be given as their strings already (a history's reader makes the person's once)."""
    data = {name: value for name, value in state.items() if name not in STATE_COLUMNS}
    # (kept as `json` would write it when the state was: see shared/state_json.py)
    return _line(service, position, occurred_at, originator_id, version, topic, state.get("provenance"),
                 state.get("upstream"), data if type(state) is dict else state_json.Exact(data), person_id)


def history_line_of(service: str, position: int, occurred_at: datetime, originator_id: UUID | str, version: int,
                    topic: str, plaintext: bytes, person_id: UUID | str) -> dict[str, Any]:
    """`history_line(..., decode_state(plaintext), ...)`, the state decoded and split in one pass."""
    columns, data = state_json.decode_fields(plaintext, STATE_COLUMNS)
    return _line(service, position, occurred_at, originator_id, version, topic, columns.get("provenance"),
                 columns.get("upstream"), data, person_id)


def _line(service: str, position: int, occurred_at: datetime, originator_id: UUID | str, version: int, topic: str,
          provenance: Any, upstream: Any, data: dict[str, Any], person_id: UUID | str) -> dict[str, Any]:
    caused_by = None
    if provenance is not None:
        actor_id, actor_role = provenance["actor_id"], provenance["actor_role"]
        correlation_id, causation_id = provenance["correlation_id"], provenance.get("causation_id")
    elif upstream is not None:
        actor_id, actor_role = service, SERVICE_ROLE
        correlation_id, causation_id = upstream["correlation_id"], upstream["event_id"]
        caused_by = {"source": upstream["source"], "position": upstream["position"],
                     "event_id": upstream["event_id"], "type": upstream["event_type"]}
    else:
        actor_id, actor_role, correlation_id, causation_id = service, SERVICE_ROLE, None, None
    aggregate_id = str(originator_id)
    # The event id: `shared/envelope.py: stable_event_id` (a UUID version 5) as a string, without
    # UUID objects: the SHA-1's first 32 hex digits, the version digit and the variant put in.
    # (Inlined, as `person_index.event_type` is: this runs for every line.)
    h = _sha1(_NAMESPACE + f"{service}/{aggregate_id}/{version}".encode()).hexdigest()
    return {
        "occurred_at": occurred_at.isoformat(),
        "service": service,
        "position": position,
        "type": topic.partition(":")[2] or topic,
        "event_id": f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:32]}",
        "aggregate_id": aggregate_id,
        "aggregate_version": version,
        "person_id": str(person_id),
        "actor_id": actor_id,
        "actor_role": actor_role,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "caused_by": caused_by,
        "data": data,
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
