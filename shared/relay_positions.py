"""Where each outbox relay has got to (shared/relay.py), and the lease that lets one relay per
service publish at a time."""

from __future__ import annotations

import asyncpg

from shared.pools import create_pool


class RelayPositions:
    """The last position each relay has seen confirmed, in the service's own schema, and the lease
    that lets only one relay per service publish at a time (replicas of a service stand by)."""

    def __init__(self, dsn: str, schema: str) -> None:
        self._dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._lease: asyncpg.Connection | None = None
        self._table = f'"{schema}".relay_positions'

    async def hold_lease(self, relay: str) -> bool:
        """True while this process holds the relay's session advisory lock (taken if free)."""
        if self._lease is not None and not self._lease.is_closed():
            return True
        self._lease = await asyncpg.connect(self._dsn)
        if await self._lease.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", relay):
            return True
        await self._lease.close()
        self._lease = None
        return False

    async def open(self) -> None:
        self._pool = await create_pool(self._dsn, min_size=1, max_size=2)
        await self._pool.execute(
            f"CREATE TABLE IF NOT EXISTS {self._table} (relay text PRIMARY KEY, position bigint NOT NULL)"
        )

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    def _opened(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("relay positions used before open()")
        return self._pool

    async def close(self) -> None:
        if self._lease is not None:
            await self._lease.close()  # releases the advisory lock: a standby takes over
        if self._pool is not None:
            await self._pool.close()

    async def load(self, relay: str) -> int:
        position = await self._opened().fetchval(f"SELECT position FROM {self._table} WHERE relay = $1", relay)
        return position or 0

    async def save(self, relay: str, position: int) -> None:
        await self._opened().execute(
            f"INSERT INTO {self._table} (relay, position) VALUES ($1, $2) "
            "ON CONFLICT (relay) DO UPDATE SET position = EXCLUDED.position",
            relay,
            position,
        )
