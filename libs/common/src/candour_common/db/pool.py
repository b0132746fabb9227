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


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the pool beyond asyncpg's own step
    (which rolls back a transaction left open and drops listener callbacks): nothing.

    asyncpg's default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` on every release: a round trip per unit of work, rate-limit check and
    relay batch. Candour leaves no session state on a pooled connection: its advisory
    locks are transaction-scoped (`pg_advisory_xact_lock`), its settings local
    (`set_config(..., true)`), its cursors live inside transactions, and the outbox
    relay unlistens and gives up its turn before handing its connection back
    (or closes it). Session-scoped state belongs on a connection of its own
    (`asyncpg.connect`, as the migrations take their lock).
    """


async def create_pool(dsn: str, *, max_size: int = 10, min_size: int = 1) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        # Fail fast when the server is gone so callers can answer 503 instead of hanging.
        timeout=5,
        command_timeout=30,
        reset=_keep_session,
    )
    assert pool is not None
    return pool


async def ping(pool: asyncpg.Pool) -> None:
    async with pool.acquire(timeout=2) as conn:
        await conn.fetchval("SELECT 1")
