"""`carecoord audit history PERSON`: every event about a person in the three services, decrypted,
merged into one stream in time order with causation kept, a page at a time.

The auditor's tool reads each service's store directly, with that service's settings and keys (as
`audit verify` does), rather than through the services' HTTP endpoints: it needs no token for three
services, reads each store in one consistent snapshot (REPEATABLE READ, read-only), works while a
service is down, and goes no slower than the database. Each service's page is the same query (the
aggregate id read as text) and the same lines as its `GET /audit/people/{id}/history`
(shared/person_index.py, shared/person_history.py), so the two cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import datetime
from typing import Any

import psycopg
from pydantic import SecretStr

from eventsourcing.utils import Environment

from carecoord.audit.keys import SERVICES
from carecoord.dev import kept_dev_value
from shared.cipher import RotatingAESCipher
from shared.person_history import history_line_of
from shared.person_index import HistoryFilter, history_parameters, history_statement
from shared.settings import ServiceSettings

PAGE = 1000
Line = dict[str, Any]


def service_settings(service: str) -> ServiceSettings:
    """The service's database and event keys: `<SERVICE>_DATABASE_URL`, `<SERVICE>_EVENT_CIPHER_KEY`
    and `<SERVICE>_EVENT_CIPHER_RETIRED_KEYS` where each service has its own, else the shared
    DATABASE_URL and EVENT_CIPHER_KEY (else the key `carecoord run` keeps in .dev/)."""
    prefix = service.upper()
    values: dict[str, Any] = {"service_name": service}
    for field in ("database_url", "database_schema", "event_cipher_key", "event_cipher_retired_keys"):
        value = os.environ.get(f"{prefix}_{field.upper()}") or os.environ.get(field.upper())
        if value:
            values[field] = value
    if "event_cipher_key" not in values and (kept := kept_dev_value("EVENT_CIPHER_KEY")):
        values["event_cipher_key"] = SecretStr(kept)
    return ServiceSettings(**values)


class ServiceHistory:
    """A person's history in one service's store, read a page at a time by position."""

    def __init__(self, conn: psycopg.Connection, settings: ServiceSettings) -> None:
        self.conn = conn
        self.service = settings.service_name
        self.cipher = RotatingAESCipher(Environment(self.service, settings.eventsourcing_env()))
        self.schema = settings.schema_name
        self._statement = history_statement(settings.schema_name, f"{self.service}_events", ids_as_text=True)

    def has_index(self) -> bool:
        row = self.conn.execute("SELECT to_regclass(%s)", (f'"{self.schema}"."person_events"',)).fetchone()
        return row is not None and row[0] is not None

    def rows(self, query: HistoryFilter) -> list[tuple]:
        """One page as stored: (position, occurred_at, originator_id as text, version, topic, state)."""
        with self.conn.cursor(binary=True) as cursor:
            cursor.execute(self._statement, history_parameters(query), prepare=True)
            return cursor.fetchall()

    def lines(self, query: HistoryFilter) -> Iterator[tuple[datetime, Line]]:
        """Every matching line, by position, the next page fetched on a thread while this one is
        decoded (PostgreSQL works meanwhile). Memory: two pages of rows, the one being read and the
        next, both held at each hand-off whatever the timing (a page is let go as a whole when the
        next is taken), so the peak is the same for a history of any length; lines are made one at a
        time as they are written."""
        def page_after(after: int) -> list[tuple]:
            return self.rows(HistoryFilter(query.person_id, after, query.since, query.until, query.types,
                                           query.limit))

        person = str(query.person_id)  # once, not per line
        service, decrypt = self.service, self.cipher.decrypt  # (`line` inlined: this runs for every event)
        with ThreadPoolExecutor(1, thread_name_prefix="history-prefetch") as pool:
            pending = pool.submit(page_after, query.after)
            while True:
                page = pending.result()
                full = len(page) == query.limit
                if full:
                    pending = pool.submit(page_after, page[-1][0])
                for position, occurred_at, originator_id, version, topic, state in page:
                    yield occurred_at, history_line_of(service, position, occurred_at, originator_id, version, topic,
                                                       decrypt(state), person)
                if not full:
                    return


@contextmanager
def service_histories(services: Sequence[str]) -> Iterator[dict[str, ServiceHistory]]:
    """Each named service's history reader, on a read-only snapshot of its own store."""
    with ExitStack() as stack:
        histories = {}
        for service in services:
            settings = service_settings(service)
            conn = stack.enter_context(psycopg.connect(settings.database_url))
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            histories[service] = ServiceHistory(conn, settings)
        yield histories


def check_services(services: Sequence[str]) -> None:
    unknown = [service for service in services if service not in SERVICES]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not one of {', '.join(SERVICES)}")


