"""asyncpg pools for the relay's positions, the log reader and read models."""

from __future__ import annotations

from typing import Any

import asyncpg


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Nothing to undo: these pools never change session state (no LISTEN, SET or session locks;
    the relay's lease has a connection of its own). asyncpg still rolls back an open transaction."""


async def create_pool(dsn: str, **kwargs: Any) -> asyncpg.Pool:
    """An asyncpg pool that does not reset sessions on release. By default asyncpg runs `SELECT
    pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` each time a connection goes back to
    the pool: a second round trip for every read, 8% of intake's Python time in the relay."""
    return await asyncpg.create_pool(dsn, reset=_keep_session, **kwargs)
