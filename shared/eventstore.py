"""eventsourcing, set up the way every carecoord service uses it (see docs/architecture.md)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import JSONTranscoder, Tracking, Transcoding

from shared.domain import Provenance, UpstreamRef
from shared.settings import ServiceSettings


class ProvenanceAsDict(Transcoding):
    type = Provenance
    name = "provenance"

    def encode(self, obj: Provenance) -> dict[str, Any]:
        return obj.as_dict()

    def decode(self, data: dict[str, Any]) -> Provenance:
        return Provenance.from_dict(data)


class UpstreamRefAsDict(Transcoding):
    type = UpstreamRef
    name = "upstream_ref"

    def encode(self, obj: UpstreamRef) -> dict[str, Any]:
        return obj.as_dict()

    def decode(self, data: dict[str, Any]) -> UpstreamRef:
        return UpstreamRef.from_dict(data)


class ServiceApplication(Application):
    """An Application whose recorder can also record tracking, so that the effects of a consumed
    message and the record of having consumed it commit in one transaction."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ProvenanceAsDict())
        transcoder.register(UpstreamRefAsDict())

    def construct_recorder(self):  # type: ignore[override]
        return self.factory.process_recorder()

    def record(self, *aggregates: Any, tracking: Tracking | None = None) -> None:
        """Save aggregates' pending events, with the upstream position they answer to, atomically.

        A duplicate tracking (same source and position) raises IntegrityError and nothing is saved.
        """
        processing_event: ProcessingEvent = ProcessingEvent(tracking=tracking)
        processing_event.collect_events(*aggregates)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)


def ensure_schema(settings: ServiceSettings) -> None:
    """eventsourcing creates its tables, but the schema must exist first."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(settings.schema)))


def ensure_database(database_url: str) -> bool:
    """Create the database named in `database_url` if it is missing. Returns True if created."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True
