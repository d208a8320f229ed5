"""The integrated pictures in PostgreSQL (asyncpg): kept up to date from careplan's notification
log, rebuilt from zero on demand.

The projector reads the events the picture shows after its position (500 at a time), decodes
them with the application's mapper (which decrypts them), folds them into the affected people's
pictures and writes those pictures and the new position in one transaction. That transaction
first takes a transaction-level advisory lock and checks the stored position is still the one
the batch was read after (compare-and-set): two replicas, or a replica and a rebuild, never
apply a batch twice; the one that finds the position moved goes on from the stored one.

A rebuild replays the log into a shadow table (`pictures_rebuild`), a batch per transaction with
its own position (`picture-rebuild` in the same position table), so that a rebuild that was
stopped (killed, a lost connection) and started again goes on from where it stopped. Meanwhile the
live projectors keep the live table up to date and readers see it. At the end the rebuild takes
the live projectors' lock for one transaction that replaces the live pictures with the shadow's,
sets the live position to where the replay stopped and empties the shadow: live projectors then
find the position moved and apply what was recorded since onto the rebuilt pictures.

Each picture is one document, encrypted with the application's cipher: it holds clinical text.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

import asyncpg
from eventsourcing.persistence import Cipher, Notification

from services.careplan.application import CareplanApplication
from services.careplan.picture.document import Picture, from_document, to_document
from services.careplan.picture.model import SHOWN, apply, person_of
from shared.eventstore import ensure_schema
from shared.log_tailing import LogTailLoop
from shared.log_reading import LogReader, ThreadedLogReader, log_reader
from shared.pools import create_pool
from shared.relay import RunSync
from shared.settings import ServiceSettings
from shared.topics import stored_topics

Progress = Callable[[int, int], None]  # (position reached, position to reach)


class RebuildRunning(Exception):
    """Another rebuild of the same pictures is under way (one at a time: they share the shadow)."""


def picture_event_classes() -> list[type]:
    """The domain event classes the picture shows (the projector reads only their topics)."""
    return list(SHOWN)


class PictureStore:
    """The pictures (one encrypted document per person) and the projection's position, in the
    service's schema. The pool is opened on first use (the projector or an HTTP read)."""

    def __init__(self, dsn: str, schema: str, cipher: Cipher | None, name: str = "picture",
                 table: str = "pictures") -> None:
        if cipher is None:
            raise ValueError("pictures hold clinical text and are stored encrypted: the application needs a cipher")
        self._dsn = dsn
        self._schema = schema
        self._cipher = cipher
        self.name = name
        self._pictures = f'"{schema}".{table}'
        self._positions = f'"{schema}".picture_position'
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await self._open()
        return self._pool

    async def _open(self) -> asyncpg.Pool:
        pool = await create_pool(self._dsn, min_size=1, max_size=3)
        try:
            async with pool.acquire() as conn, conn.transaction():
                # Replicas starting together would race on CREATE TABLE IF NOT EXISTS.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"{self._positions} ddl")
                await conn.execute(f"CREATE TABLE IF NOT EXISTS {self._positions} "
                                   "(projection text PRIMARY KEY, position bigint NOT NULL)")
                await conn.execute(f"CREATE TABLE IF NOT EXISTS {self._pictures} "
                                   "(person_id uuid PRIMARY KEY, document bytea NOT NULL)")
                await conn.execute(f"INSERT INTO {self._positions} (projection, position) VALUES ($1, 0) "
                                   "ON CONFLICT (projection) DO NOTHING", self.name)
        except BaseException:
            await pool.close()
            raise
        return pool

    def shadow(self) -> PictureStore:
        """The store a rebuild replays into (its own table and position), then swaps in."""
        return PictureStore(self._dsn, self._schema, self._cipher, f"{self.name}-rebuild", "pictures_rebuild")

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    # -- reads -------------------------------------------------------------------------------------

    async def get(self, person_id: UUID) -> Picture | None:
        document = await (await self.pool()).fetchval(
            f"SELECT document FROM {self._pictures} WHERE person_id = $1", person_id)
        return None if document is None else self._decode(document)

    async def all(self) -> dict[str, Picture]:
        rows = await (await self.pool()).fetch(f"SELECT person_id, document FROM {self._pictures}")
        return {str(row["person_id"]): self._decode(row["document"]) for row in rows}

    async def position(self) -> int:
        async with (await self.pool()).acquire() as conn:
            return await self.stored_position(conn)

    # -- within a projector's or a rebuild's transaction ------------------------------------------

    async def stored_position(self, conn: asyncpg.Connection) -> int:
        return await conn.fetchval(f"SELECT position FROM {self._positions} WHERE projection = $1", self.name)

    async def save_position(self, conn: asyncpg.Connection, position: int) -> None:
        await conn.execute(f"UPDATE {self._positions} SET position = $2 WHERE projection = $1", self.name, position)

    async def clear(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"DELETE FROM {self._pictures}")
        await self.save_position(conn, 0)

    async def replace_with(self, conn: asyncpg.Connection, rebuilt: PictureStore, position: int) -> None:
        """This store's pictures become `rebuilt`'s, as of `position`; `rebuilt` is emptied and its
        position forgotten (the next rebuild starts from zero). Copied rather than renamed: readers
        keep reading the old rows until this commits, and no cached statement names a moved table."""
        await conn.execute(f"DELETE FROM {self._pictures}")
        await conn.execute(f"INSERT INTO {self._pictures} (person_id, document) "
                           f"SELECT person_id, document FROM {rebuilt._pictures}")
        await self.save_position(conn, position)
        await rebuilt.clear(conn)

    async def fold_into(self, conn: asyncpg.Connection, events: Iterable[Any]) -> None:
        """Fold decoded events, in order, into the stored pictures of the people they are about."""
        events = list(events)
        person_ids = {UUID(person_of(domain_event)) for domain_event in events}
        rows = await conn.fetch(f"SELECT person_id, document FROM {self._pictures} WHERE person_id = ANY($1::uuid[])",
                                list(person_ids))
        pictures: dict[str, Picture | None] = {str(row["person_id"]): self._decode(row["document"]) for row in rows}
        changed: dict[str, Picture] = {}
        for domain_event in events:
            person_id = person_of(domain_event)
            picture = apply(pictures.get(person_id), domain_event)
            if picture is not None:
                pictures[person_id] = changed[person_id] = picture
        await conn.executemany(
            f"INSERT INTO {self._pictures} (person_id, document) VALUES ($1, $2) "
            "ON CONFLICT (person_id) DO UPDATE SET document = EXCLUDED.document",
            [(UUID(person_id), self._encode(picture)) for person_id, picture in changed.items()],
        )

    def _encode(self, picture: Picture) -> bytes:
        return self._cipher.encrypt(json.dumps(to_document(picture), separators=(",", ":")).encode())

    def _decode(self, document: bytes) -> Picture:
        return from_document(json.loads(self._cipher.decrypt(bytes(document))))


class PictureProjection(LogTailLoop):
    """Tails the application's notification log into the PictureStore. A `LogTailer` of the
    service (shared/runtime.py): run with it, woken by LISTEN/NOTIFY, stopped with it."""

    kind = "projection"

    def __init__(self, application: CareplanApplication, store: PictureStore, run_sync: RunSync,
                 batch_size: int = 500, idle_poll_seconds: float = 1.0, min_step_interval_seconds: float = 0.2,
                 reader: LogReader | None = None) -> None:
        self.name = f"{application.name.lower()}-{store.name}"
        self.store = store
        self._application = application
        self._run_sync = run_sync
        self._reader = reader or ThreadedLogReader(application.recorder, run_sync)
        self._batch_size = batch_size
        self._topics = [topic for event_class in picture_event_classes() for topic in stored_topics(event_class)]
        self.wakes_for = frozenset(self._topics)
        self._loaded = False
        self._read_to = 0  # how far the log has been read (at or past `position`)
        # The picture is a read model: 200 ms later, in batches, costs careplan far less CPU than
        # a read, a transaction and a document write per commit.
        super().__init__(idle_poll_seconds, min_step_interval_seconds)

    async def run(self) -> None:
        """Project forever; database failures are waited out and retried from the stored position."""
        try:
            await self.tail()
        finally:
            await self.close()

    async def close(self) -> None:
        """Close its connections (the store's pool and the log reader's)."""
        await self.store.close()
        await self._reader.close()

    async def step(self) -> bool:
        if not self._loaded:
            self.position = await self.store.position()
            self._loaded = True
        # 0: nothing new; None: a replica or a rebuild holds the projection. Either way, wait for news.
        return bool(await self.apply_next_batch())

    async def apply_next_batch(self) -> int | None:
        """Apply the next batch of events after `position`: the number applied, 0 when there is
        nothing new, None when another projector (a replica, a rebuild) holds the lock right now."""
        while True:
            expected = self.position
            # Events the picture does not show were read past without a write: go on from there.
            batch, read_to = await self._read(max(expected, self._read_to), self._batch_size)
            if not batch:
                self._read_to = read_to
                return 0
            pool = await self.store.pool()
            async with pool.acquire() as conn, conn.transaction():
                if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", self.name):
                    return None
                stored = await self.store.stored_position(conn)
                if stored == expected:
                    await self.store.fold_into(conn, (domain_event for _, domain_event in batch))
                    await self.store.save_position(conn, read_to)
                    self.position = self._read_to = read_to
                    return len(batch)
            # A replica applied this batch, or a rebuild replaced everything: go on from there.
            self.position = self._read_to = stored

    async def catch_up(self) -> int:
        """Apply everything recorded so far, waiting out other projectors; the number applied."""
        self.position = await self.store.position()
        total = 0
        while (applied := await self.apply_next_batch()) != 0:
            if applied is None:
                await asyncio.sleep(0.05)
            else:
                total += applied
        return total

    async def rebuild(self, progress: Progress | None = None, from_scratch: bool = False) -> int:
        """Replay the log into the shadow table, from where an earlier rebuild stopped (or from zero:
        `from_scratch`, or when none stopped half-way), then swap it in (see the module's doc). Safe
        while services run; one rebuild at a time (RebuildRunning). The number of events replayed
        by this call."""
        await self.store.pool()  # the live tables exist before anything is swapped into them
        shadow = self.store.shadow()
        try:
            async with (await shadow.pool()).acquire() as conn:
                # Held for the whole rebuild, on this connection: a second rebuild is refused at once.
                if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", shadow.name):
                    raise RebuildRunning(f"another rebuild of {self.store.name}s is under way")
                try:
                    return await self._rebuild_into(conn, shadow, progress, from_scratch)
                finally:
                    await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", shadow.name)
        finally:
            await shadow.close()

    async def _rebuild_into(self, conn: asyncpg.Connection, shadow: PictureStore, progress: Progress | None,
                            from_scratch: bool) -> int:
        if from_scratch:
            async with conn.transaction():
                await shadow.clear(conn)
        position = await shadow.stored_position(conn)
        last = max(position, await self._run_sync(self._application.recorder.max_notification_id) or 0)
        replayed = 0
        if progress is not None:
            progress(position, last)
        while position < last:
            batch, read_to = await self._read(position, self._batch_size, last)
            # Each batch commits with the shadow's position: a rebuild stopped here goes on from it.
            async with conn.transaction():
                await shadow.fold_into(conn, (domain_event for _, domain_event in batch))
                await shadow.save_position(conn, read_to)
            position = read_to
            replayed += len(batch)
            if progress is not None:
                progress(position, last)
        # Everything up to `last` is in the shadow; what was recorded since is the live projectors'
        # job, from `last` on, once the rebuilt pictures replace theirs.
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.name)  # waits out a live batch
            await self.store.replace_with(conn, shadow, last)
        if progress is not None:
            progress(last, last)
        return replayed

    async def _read(self, after: int, limit: int, stop: int | None = None) -> tuple[list[tuple[int, Any]], int]:
        """The next events the picture shows, decoded (and decrypted) on the pool, and how far
        the log was read (see `read_log`)."""
        notifications, read_to = await self._reader.read(after, limit, self._topics, stop)
        if not notifications:
            return [], read_to
        return await self._run_sync(self._decode, notifications), read_to

    def _decode(self, notifications: Sequence[Notification]) -> list[tuple[int, Any]]:
        return [(n.id, self._application.mapper.to_domain_event(n)) for n in notifications]

def picture_projection(application: CareplanApplication, dsn: str, schema: str, run_sync: RunSync,
                       batch_size: int = 500) -> PictureProjection:
    store = PictureStore(dsn, schema, application.mapper.cipher)
    return PictureProjection(application, store, run_sync, batch_size=batch_size,
                             reader=log_reader(application, run_sync, dsn))


async def rebuild_pictures(settings: ServiceSettings, progress: Progress | None = None,
                           from_scratch: bool = False) -> int:
    """Rebuild every picture with an application of its own (`carecoord rebuild-picture`; services
    may be running meanwhile), going on from where a stopped rebuild stopped unless `from_scratch`.
    The number of events replayed by this call."""
    ensure_schema(settings)
    application = CareplanApplication(env=settings.eventsourcing_env())
    try:
        projection = picture_projection(application, settings.database_url, settings.schema_name, asyncio.to_thread)
        try:
            return await projection.rebuild(progress, from_scratch)
        finally:
            await projection.close()
    finally:
        application.close()
