"""The pool's connections on their way back: an open transaction is rolled back (its
locks and changes gone), and nothing else is paid for (no reset round trip)."""

from __future__ import annotations

import pytest

from candour_common.db.pool import create_pool

pytestmark = pytest.mark.integration


async def test_a_transaction_left_open_is_rolled_back_when_its_connection_goes_back(
    create_database,
) -> None:
    url = await create_database("pool")
    pool = await create_pool(url, max_size=1, min_size=1)
    try:
        await pool.execute("CREATE TABLE t (n int)")
        conn = await pool.acquire()
        pid = conn.get_server_pid()
        await conn.execute("BEGIN")
        await conn.execute("INSERT INTO t VALUES (1)")
        await conn.execute("SELECT pg_advisory_xact_lock(42)")
        await pool.release(conn)
        async with pool.acquire() as again:
            assert again.get_server_pid() == pid  # the same session, reused
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT count(*) FROM t") == 0
            assert await again.fetchval("SELECT pg_try_advisory_xact_lock(42)")
    finally:
        await pool.close()


async def test_giving_a_connection_back_costs_no_round_trip(create_database) -> None:
    url = await create_database("pool")
    pool = await create_pool(url, max_size=1, min_size=1)
    try:
        async with pool.acquire() as conn:
            sent: list[str] = []
            conn.add_query_logger(lambda record: sent.append(record.query))
            await conn.fetchval("SELECT 1")
        # asyncpg's default reset would add its own statement on the way back:
        # "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;"
        assert sent == ["SELECT 1"]
    finally:
        await pool.close()
