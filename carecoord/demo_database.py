"""The database `carecoord run` gives the services (DATABASE_URL): checked against the event key
before they start, and reset on request (`--reset-demo-database`), never otherwise.

The database is the machine's, the development key is the clone's (.dev/): a second clone of the
repository on a machine where another clone's demo ran makes a key of its own, and its services
could read none of the events already stored. Checked first, that is one clear message instead of
"Invalid cipher tag" in three services' logs and a demo that receives nothing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import psycopg
from eventsourcing.utils import Environment
from psycopg import sql
from pydantic import SecretStr

from carecoord.dev import dev_file
from shared.cipher import RotatingAESCipher
from shared.settings import ServiceSettings
from shared.stored_keys import database_label, unreadable_stores, written_with_another_key

KEY = "EVENT_CIPHER_KEY"
# A demo database is on this machine: a reset never reaches a server elsewhere.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class ResetRefused(Exception):
    """The database was left as it was; the message says why."""


def service_schemas(services: Sequence[str]) -> list[str]:
    return [ServiceSettings(service_name=service).schema_name for service in services]


def key_mismatch(database_url: str, services: Sequence[str], key: str) -> str | None:
    """The message to stop with if the services' stores hold events `key` (with any retired keys in
    EVENT_CIPHER_RETIRED_KEYS, as the services get them) cannot decrypt; None if they can, or are empty."""
    settings = ServiceSettings(database_url=database_url, event_cipher_key=SecretStr(key))
    cipher = RotatingAESCipher(Environment("carecoord-run", settings.eventsourcing_env()))
    tables = unreadable_stores(database_url, service_schemas(services), cipher)
    if not tables:
        return None
    if os.environ.get(KEY):
        return written_with_another_key(database_url, tables, f"{KEY} as set in the environment", f"in {KEY}")
    kept = dev_file(KEY).resolve()
    return written_with_another_key(database_url, tables, f"this clone's development key ({kept}, made by "
                                    f"`carecoord run` because {KEY} is not set)",
                                    f"in {KEY}, or in {kept}: the clone that ran the demo before keeps it in its "
                                    f"own .dev/event_cipher_key")


def reset_demo_database(database_url: str, services: Sequence[str]) -> None:
    """Drop the database and create it empty. Refused (ResetRefused, nothing dropped) unless it is on
    this machine and holds no tables but the services' (a database of something else is never
    dropped), and when other sessions use it (no FORCE: a run still going must be stopped first)."""
    parts = urlsplit(database_url)
    name, label = parts.path.lstrip("/"), database_label(database_url)
    if parts.hostname not in LOOPBACK:
        raise ResetRefused(f"{label} is not on this machine; only a local demo database is reset")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            _refuse_unless_only_services(database_url, label, service_schemas(services))
            try:
                admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
            except psycopg.errors.ObjectInUse:
                raise ResetRefused(f"{label} is in use by other sessions (a `carecoord run` still running?); "
                                   "stop them and try again") from None
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _refuse_unless_only_services(database_url: str, label: str, schemas: list[str]) -> None:
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        others = [schema for (schema,) in conn.execute(
            "SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_schema <> ALL(%s) "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1", (schemas,))]
    if others:
        raise ResetRefused(f"{label} holds tables besides the services' (in schema {', '.join(others)}), "
                           "so it is not a demo database carecoord made")
