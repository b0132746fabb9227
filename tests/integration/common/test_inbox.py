"""The inbox records an event once; the batch's stories stay locked until it commits."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from candour_common.db.inbox import InboxEntry, record_new
from candour_common.runtime import migrate_database

pytestmark = pytest.mark.integration


async def test_an_event_is_recorded_once_and_its_story_stays_locked_until_commit(
    create_database,
) -> None:
    url = await create_database("inbox")
    await migrate_database(url, "candour_search.migrations")
    story_id, event_id, other_event = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    entry = InboxEntry(event_id=event_id, topic="t", story_id=story_id)
    first, other = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        lock_taken_elsewhere = "SELECT pg_try_advisory_xact_lock(hashtextextended($1::text, 0))"
        async with first.transaction():
            assert await record_new(first, consumer="c", entries=[entry]) == {event_id}
            async with other.transaction():
                assert not await other.fetchval(lock_taken_elsewhere, str(story_id))
        async with other.transaction():
            assert await other.fetchval(lock_taken_elsewhere, str(story_id))
            # Seen before: not new again, whatever else is in the batch.
            batch = [entry, InboxEntry(event_id=other_event, topic="t")]
            assert await record_new(other, consumer="c", entries=batch) == {other_event}
            assert await record_new(other, consumer="d", entries=[entry]) == {event_id}
            assert await record_new(other, consumer="d", entries=[]) == set()
    finally:
        await first.close()
        await other.close()
