"""The shared retention rules on a real PostgreSQL database: only what is past its age
goes, in batches, and an outbox row never published is never purged, however old."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import pytest

from candour_common.db.migrations import COMMON_MIGRATIONS, apply_migrations, load_migrations
from candour_common.db.pool import create_pool
from candour_common.db.retention import platform_rules, purge

pytestmark = pytest.mark.integration


async def test_only_rows_past_their_age_are_purged_and_unsent_events_never(
    create_database,
) -> None:
    url = await create_database("retention")
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn, load_migrations(COMMON_MIGRATIONS))
        # 7 published 8 days ago, 2 published just now, 3 never published (60 days old).
        for sent, created, n in (("8 days", "8 days", 7), ("0", "0", 2), (None, "60 days", 3)):
            for _ in range(n):
                await conn.execute(
                    f"""
                    INSERT INTO outbox (event_id, topic, key, headers, payload, created_at, sent_at)
                    VALUES ($1, 'story.submitted', 'k', '{{}}', NULL,
                            now() - interval '{created}',
                            {"NULL" if sent is None else f"now() - interval '{sent}'"})
                    """,
                    uuid.uuid4(),
                )
        for age, n in (("31 days", 5), ("29 days", 4)):
            for _ in range(n):
                await conn.execute(
                    f"INSERT INTO inbox (consumer, event_id, topic, processed_at)"
                    f" VALUES ('c', $1, 't', now() - interval '{age}')",
                    uuid.uuid4(),
                )
        pool = await create_pool(url, max_size=2)
        try:
            rules = platform_rules(
                outbox_max_age=timedelta(days=7), inbox_max_age=timedelta(days=30)
            )
            assert await purge(pool, rules, batch=2) == {"outbox": 7, "inbox": 5}
            assert await purge(pool, rules, batch=2) == {"outbox": 0, "inbox": 0}
        finally:
            await pool.close()
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 3
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 5
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 4
    finally:
        await conn.close()
