"""PostgreSQL plumbing on asyncpg: pool, migrations, outbox and inbox."""

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# What repositories accept: a plain connection or one borrowed from a pool.
Connection = asyncpg.Connection | PoolConnectionProxy


async def lock_story(conn: Connection, story_id: object) -> None:
    """Serialise writers of one story until the caller's transaction ends.

    A story's events arrive on several topics consumed concurrently, so (say) a
    withdrawal can commit while an approval of the same story is in flight; without
    this lock each misses the other's uncommitted row and the withdrawn story stays.
    """
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", str(story_id))
