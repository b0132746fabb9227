"""Connection pool creation, and which errors mean the database is unavailable."""

from __future__ import annotations

import asyncpg

# The database is away, or the connection broke under the caller: wait and try again
# on a fresh connection. A server that shuts down can leave a pooled connection half
# way through the protocol; asyncpg then raises InternalClientError ("cannot switch to
# state ...") on its next use, and the pool replaces that connection on release.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InternalClientError,
)


async def create_pool(dsn: str, *, max_size: int = 10, min_size: int = 1) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        # Fail fast when the server is gone so callers can answer 503 instead of hanging.
        timeout=5,
        command_timeout=30,
    )
    assert pool is not None
    return pool


async def ping(pool: asyncpg.Pool) -> None:
    async with pool.acquire(timeout=2) as conn:
        await conn.fetchval("SELECT 1")
