"""Whether the event key a service is given opens what its stores already hold.

Every stored event's state is encrypted (shared/cipher.py). A service given another key than the
one that wrote its events starts as usual and then fails on its first read of them ("Invalid cipher
tag"), far from the cause: typically a second clone of the repository, whose `carecoord run` made a
development key of its own, on a machine where an earlier clone's demo filled the database. So
before starting, one stored row of each events table (and snapshots table) is decrypted: a store
that is empty passes. Only whether decryption succeeds is looked at; nothing read is kept or shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import psycopg
from eventsourcing.persistence import Cipher
from psycopg import sql

# eventsourcing's stored events and snapshots: the tables whose `state` the cipher encrypted.
_STORED_EVENT_TABLES = """
    SELECT table_schema, table_name FROM information_schema.columns
    WHERE table_schema = ANY(%s) AND column_name IN ('originator_id', 'originator_version', 'state')
    GROUP BY table_schema, table_name HAVING count(*) = 3
    ORDER BY table_schema, table_name
"""


def unreadable_stores(database_url: str, schemas: Sequence[str], cipher: Cipher) -> list[str]:
    """The tables (`schema.table`) in `schemas` whose stored rows `cipher` cannot decrypt, judged by
    one row each (any row: a store is written with one key, or with keys the cipher all holds)."""
    unreadable = []
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        for schema, table in conn.execute(_STORED_EVENT_TABLES, (list(schemas),)).fetchall():
            row = conn.execute(sql.SQL("SELECT state FROM {}.{} LIMIT 1")
                               .format(sql.Identifier(schema), sql.Identifier(table))).fetchone()
            if row is None:
                continue
            try:
                cipher.decrypt(bytes(row[0]))
            except ValueError:  # what eventsourcing's ciphers and ours raise for a wrong key
                unreadable.append(f"{schema}.{table}")
    return unreadable


def database_label(database_url: str) -> str:
    """The database as the user knows it, without the URL's password."""
    parts = urlsplit(database_url)
    return f"`{parts.path.lstrip('/') or 'postgres'}` on {parts.hostname or '127.0.0.1'}:{parts.port or 5432}"


def written_with_another_key(database_url: str, tables: Sequence[str], key_source: str, set_key: str) -> str:
    """What to tell the user, in one paragraph: which stores, which key failed, what to do.
    `key_source` names the key in use; `set_key`, where the right one goes."""
    return (f"The database {database_label(database_url)} holds events written with another key: "
            f"{', '.join(tables)} cannot be decrypted with {key_source}. Either give the services the key that "
            f"wrote them ({set_key}; after a rotation, the earlier keys in EVENT_CIPHER_RETIRED_KEYS), or, if it is "
            f"a demo database, reset it: `carecoord run --reset-demo-database` (or `scripts/run "
            f"--reset-demo-database`) drops it, with every event in it, and creates it empty. Nothing was started.")
