"""The inbox records an event once; with a story id it also holds that story's lock."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from candour_common.db.inbox import record_once
from candour_common.runtime import migrate_database

pytestmark = pytest.mark.integration


async def test_an_event_is_recorded_once_and_its_story_stays_locked_until_commit(
    create_database,
) -> None:
    url = await create_database("inbox")
    await migrate_database(url, "candour_search.migrations")
    story_id, event_id = uuid.uuid4(), uuid.uuid4()
    first, other = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        lock_taken_elsewhere = "SELECT pg_try_advisory_xact_lock(hashtextextended($1::text, 0))"
        async with first.transaction():
            assert await record_once(
                first, consumer="c", event_id=event_id, topic="t", story_id=story_id
            )
            async with other.transaction():
                assert not await other.fetchval(lock_taken_elsewhere, str(story_id))
        async with other.transaction():
            assert await other.fetchval(lock_taken_elsewhere, str(story_id))
            assert not await record_once(
                other, consumer="c", event_id=event_id, topic="t", story_id=story_id
            )
            assert not await record_once(other, consumer="c", event_id=event_id, topic="t")
            assert await record_once(other, consumer="d", event_id=event_id, topic="t")
    finally:
        await first.close()
        await other.close()
