"""How the plain domain types that events carry are stored: eventsourcing's JSON transcoder
knows datetimes and UUIDs, not these. The names are stored with each value: never change them."""

from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.persistence import Transcoding

from shared.domain import Provenance, UpstreamRef


class ProvenanceAsDict(Transcoding):
    type = Provenance
    name = "provenance"

    def encode(self, obj: Provenance) -> dict[str, Any]:
        return obj.as_dict()

    def decode(self, data: dict[str, Any]) -> Provenance:
        return Provenance.from_dict(data)


class DateAsISO(Transcoding):
    # eventsourcing transcodes datetime but not date (a date of birth, say).
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class UpstreamRefAsDict(Transcoding):
    type = UpstreamRef
    name = "upstream_ref"

    def encode(self, obj: UpstreamRef) -> dict[str, Any]:
        return obj.as_dict()

    def decode(self, data: dict[str, Any]) -> UpstreamRef:
        return UpstreamRef.from_dict(data)


TRANSCODINGS = (ProvenanceAsDict, UpstreamRefAsDict, DateAsISO)
