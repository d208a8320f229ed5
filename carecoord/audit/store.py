"""A service's event log as the auditor reads it, and the audit tables beside it in its schema.

The log is eventsourcing's `<schema>.<service>_events`, in notification id ("position") order.
Each stored record is one leaf of the tree: its bytes exactly as stored (the state still
encrypted), so the log verifies without the key. Positions may have gaps (a rolled-back insert
uses up sequence numbers): the leaf index is the record's place in position order, and the
position is part of the leaf, so a record moved to another position changes its leaf.

Beside the log, two append-only tables (a trigger refuses UPDATE, DELETE and TRUNCATE):
`audit_checkpoints` (each signed note, and the compact range that lets the next checkpoint go on
from it without rereading the log) and `audit_leaves` (the position, record id and leaf hash of
every leaf a checkpoint covers, written when the checkpoint is made). The leaf hashes are what lets
`verify` name the first record that changed: a root alone only says that something did.
"""

from __future__ import annotations

import struct
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from shared.merkle import leaf_hash

PAGE = 5000
FIRST = -(2**63)  # below every position: a row written at 0 or below must be read too
LEAF_FIXED = struct.Struct(">16sQI")
LEAF_LENGTH = struct.Struct(">I")
LEAF_POSITION = struct.Struct(">Q")


def record_leaf(originator_id: bytes, version: int, topic: bytes, state: bytes, position: int) -> bytes:
    """A stored record's leaf: id (16 bytes), version (8), topic length (4) and UTF-8 topic, state
    length (4) and the stored (encrypted) state, position (8); integers big-endian."""
    return b"".join((LEAF_FIXED.pack(originator_id, version, len(topic)), topic, LEAF_LENGTH.pack(len(state)), state,
                     LEAF_POSITION.pack(position)))


def parse_leaf(leaf: bytes) -> dict[str, object]:
    """The fields of a leaf (for an outsider checking a proof, and for tests)."""
    originator_id, version, topic_length = LEAF_FIXED.unpack_from(leaf)
    offset = LEAF_FIXED.size
    topic = leaf[offset:offset + topic_length].decode()
    offset += topic_length
    (state_length,) = LEAF_LENGTH.unpack_from(leaf, offset)
    offset += LEAF_LENGTH.size + state_length
    (position,) = LEAF_POSITION.unpack_from(leaf, offset)
    if offset + LEAF_POSITION.size != len(leaf):
        raise ValueError("not a record leaf")
    return {"originator_id": str(UUID(bytes=originator_id)), "originator_version": version, "topic": topic,
            "position": position}


@dataclass(frozen=True, slots=True)
class StoredRecord:
    position: int
    originator_id: bytes
    version: int
    topic: bytes
    state: bytes

    def leaf(self) -> bytes:
        return record_leaf(self.originator_id, self.version, self.topic, self.state, self.position)

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.leaf())

    @property
    def record_id(self) -> tuple[UUID, int]:
        return UUID(bytes=self.originator_id), self.version


@dataclass(frozen=True, slots=True)
class StoredLeaf:
    index: int
    position: int
    originator_id: UUID
    version: int
    leaf_hash: bytes


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    last_position: int
    note: str
    compact_range: list[bytes]


class AuditStore:
    """Reads one service's log and keeps its audit tables, on one connection (the caller's
    transaction: a checkpoint is written whole or not at all)."""

    def __init__(self, conn: psycopg.Connection, service: str) -> None:
        self.conn = conn
        self.service = service
        self._schema = sql.Identifier(service)
        self._events = sql.Identifier(service, f"{service}_events")
        self._leaves = sql.Identifier(service, "audit_leaves")
        self._checkpoints = sql.Identifier(service, "audit_checkpoints")

    # -- the log

    def events_query(self) -> sql.Composed:
        """The columns of a leaf, as bytes straight from the binary protocol."""
        return sql.SQL("SELECT notification_id, uuid_send(originator_id), originator_version, "
                       "convert_to(topic, 'UTF8'), state FROM {} WHERE notification_id > %s "
                       "ORDER BY notification_id").format(self._events)

    def records(self, after_position: int = FIRST) -> Generator[StoredRecord, None, None]:
        """The stored records after a position, streamed in pages from a server-side cursor."""
        for row in self.rows(after_position):
            yield StoredRecord(*row)

    def rows(self, after_position: int = FIRST, name: str = "audit_events") -> Iterator[tuple]:
        for page in self.pages(after_position, name):
            yield from page

    def pages(self, after_position: int = FIRST, name: str = "audit_events",
              prefetch: bool = False) -> Iterator[list[tuple]]:
        """Rows (position, id bytes, version, topic bytes, state) in pages from a server-side cursor.

        `prefetch`: the next page is fetched on a thread while the caller works on this one (the
        server produces it and psycopg waits for it without the GIL), so a verification hashes
        while PostgreSQL reads. The caller must not use the connection meanwhile (psycopg's
        connection lock would make it wait)."""
        with self.conn.cursor(name=name, binary=True) as cursor:
            cursor.itersize = PAGE
            cursor.execute(self.events_query(), (after_position,))
            if not prefetch:
                while page := cursor.fetchmany(PAGE):
                    yield page
                return
            # Left before the cursor closes: the pool waits for a fetch still under way.
            with ThreadPoolExecutor(1, thread_name_prefix="audit-prefetch") as pool:
                pending = pool.submit(cursor.fetchmany, PAGE)
                while page := pending.result():
                    pending = pool.submit(cursor.fetchmany, PAGE)
                    yield page

    def _value(self, query: str | sql.Composed, params: tuple[object, ...] = ()) -> Any:
        """The first column of a query's one row (a query that always returns one)."""
        row = self.conn.execute(query, params).fetchone()
        assert row is not None
        return row[0]

    def has_log(self) -> bool:
        return self._value("SELECT to_regclass(%s)", (f'"{self.service}"."{self.service}_events"',)) is not None

    def people_at(self, positions: list[int]) -> list[UUID] | None:
        """Whose records are at these positions, by the person index (None: the store has no index,
        so it cannot say)."""
        if self._value("SELECT to_regclass(%s)", (f'"{self.service}"."person_events"',)) is None:
            return None
        rows = self.conn.execute(sql.SQL("SELECT DISTINCT person_id FROM {} WHERE position = ANY(%s) "
                                         "ORDER BY person_id").format(sql.Identifier(self.service, "person_events")),
                                 (positions,)).fetchall()
        return [row[0] if isinstance(row[0], UUID) else UUID(str(row[0])) for row in rows]

    def last_position(self) -> int:
        return int(self._value(sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(self._events)))

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        row = self.conn.execute(sql.SQL("SELECT notification_id FROM {} WHERE originator_id = %s "
                                        "AND originator_version = %s").format(self._events),
                                (originator_id, version)).fetchone()
        return row[0] if row else None

    def records_of(self, originator_id: UUID, version: int | None = None) -> list[StoredRecord]:
        query = sql.SQL("SELECT notification_id, uuid_send(originator_id), originator_version, "
                        "convert_to(topic, 'UTF8'), state FROM {} WHERE originator_id = %s "
                        "AND (%s::bigint IS NULL OR originator_version = %s::bigint) "
                        "ORDER BY notification_id").format(self._events)
        with self.conn.cursor(binary=True) as cursor:
            cursor.execute(query, (originator_id, version, version))
            return [StoredRecord(*row) for row in cursor.fetchall()]

    def record_at(self, position: int) -> StoredRecord | None:
        query = sql.SQL("SELECT notification_id, uuid_send(originator_id), originator_version, "
                        "convert_to(topic, 'UTF8'), state FROM {} WHERE notification_id = %s").format(self._events)
        with self.conn.cursor(binary=True) as cursor:
            row = cursor.execute(query, (position,)).fetchone()
        return StoredRecord(*row) if row else None

    # -- the audit tables

    def ensure_tables(self) -> None:
        statements = [
            "CREATE TABLE IF NOT EXISTS {checkpoints} (tree_size bigint PRIMARY KEY, last_position bigint NOT NULL, "
            "note text NOT NULL, compact_range bytea[] NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
            "CREATE TABLE IF NOT EXISTS {leaves} (leaf_index bigint PRIMARY KEY, position bigint NOT NULL, "
            "originator_id uuid NOT NULL, originator_version bigint NOT NULL, leaf_hash bytea NOT NULL)",
            "CREATE INDEX IF NOT EXISTS audit_leaves_by_record ON {leaves} (originator_id, originator_version)",
            "CREATE INDEX IF NOT EXISTS audit_leaves_by_position ON {leaves} (position)",
            "CREATE OR REPLACE FUNCTION {schema}.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the audit tables are append-only (% on %)', TG_OP, TG_TABLE_NAME; END $$",
            "CREATE OR REPLACE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {checkpoints} "
            "FOR EACH STATEMENT EXECUTE FUNCTION {schema}.audit_append_only()",
            "CREATE OR REPLACE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {leaves} "
            "FOR EACH STATEMENT EXECUTE FUNCTION {schema}.audit_append_only()",
        ]
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.service}.audit",))
            for statement in statements:
                self.conn.execute(sql.SQL(statement).format(schema=self._schema, checkpoints=self._checkpoints,
                                                            leaves=self._leaves))

    def lock_for_checkpoint(self) -> None:
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.service}.audit.checkpoint",))

    def has_audit_tables(self) -> bool:
        return self._value("SELECT to_regclass(%s)", (f'"{self.service}"."audit_checkpoints"',)) is not None

    def checkpoints(self) -> list[StoredCheckpoint]:
        if not self.has_audit_tables():
            return []
        rows = self.conn.execute(sql.SQL("SELECT tree_size, last_position, note, compact_range FROM {} "
                                         "ORDER BY tree_size").format(self._checkpoints)).fetchall()
        return [StoredCheckpoint(size, last, note, [bytes(h) for h in compact]) for size, last, note, compact in rows]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        rows = self.conn.execute(sql.SQL("SELECT tree_size, last_position, note, compact_range FROM {} "
                                         "ORDER BY tree_size DESC LIMIT 1").format(self._checkpoints)).fetchall()
        return next((StoredCheckpoint(s, last, n, [bytes(h) for h in c]) for s, last, n, c in rows), None)

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        self.conn.execute(sql.SQL("INSERT INTO {} (tree_size, last_position, note, compact_range) "
                                  "VALUES (%s, %s, %s, %s)").format(self._checkpoints),
                          (checkpoint.size, checkpoint.last_position, checkpoint.note, checkpoint.compact_range))

    def add_leaves(self, leaves: list[StoredLeaf]) -> None:
        with self.conn.cursor().copy(sql.SQL("COPY {} (leaf_index, position, originator_id, originator_version, "
                                             "leaf_hash) FROM STDIN").format(self._leaves)) as copy:
            for leaf in leaves:
                copy.write_row((leaf.index, leaf.position, leaf.originator_id, leaf.version, leaf.leaf_hash))

    def leaves(self, stop: int, name: str = "audit_leaves") -> Generator[StoredLeaf, None, None]:
        """The stored leaves [0, stop), streamed."""
        if not self.has_audit_tables():
            return
        with self.conn.cursor(name=name, binary=True) as cursor:
            cursor.itersize = PAGE
            cursor.execute(sql.SQL("SELECT leaf_index, position, originator_id, originator_version, leaf_hash "
                                   "FROM {} WHERE leaf_index < %s ORDER BY leaf_index").format(self._leaves), (stop,))
            while page := cursor.fetchmany(PAGE):
                for row in page:
                    yield StoredLeaf(*row)

    def leaf_hashes(self, stop: int) -> Iterator[bytes]:
        for leaf in self.leaves(stop, name="audit_leaf_hashes"):
            yield leaf.leaf_hash

    def leaf_of(self, originator_id: UUID, version: int) -> StoredLeaf | None:
        if not self.has_audit_tables():
            return None
        row = self.conn.execute(sql.SQL("SELECT leaf_index, position, originator_id, originator_version, leaf_hash "
                                        "FROM {} WHERE originator_id = %s AND originator_version = %s "
                                        "ORDER BY leaf_index LIMIT 1").format(self._leaves),
                                (originator_id, version)).fetchone()
        return StoredLeaf(*row) if row else None

    def leaf_at_position(self, position: int) -> StoredLeaf | None:
        row = self.conn.execute(sql.SQL("SELECT leaf_index, position, originator_id, originator_version, leaf_hash "
                                        "FROM {} WHERE position = %s ORDER BY leaf_index LIMIT 1").format(self._leaves),
                                (position,)).fetchone()
        return StoredLeaf(*row) if row else None
