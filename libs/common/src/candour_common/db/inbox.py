"""Inbox: remember processed event ids so redelivery changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from candour_common.db import Connection


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """One consumed event, as the inbox records it."""

    event_id: uuid.UUID
    topic: str
    story_id: uuid.UUID | None = None


async def record_new(
    conn: Connection, *, consumer: str, entries: Sequence[InboxEntry]
) -> set[uuid.UUID]:
    """Record a batch of events in one statement; return the ids not processed before.

    First it takes the advisory lock of every story in the batch (as `lock_story`
    does), in one fixed order so that two batches sharing stories cannot deadlock:
    a story's events arrive on several topics, which other copies of the service
    may be consuming at the same moment.
    """
    if not entries:
        return set()
    stories = sorted({str(e.story_id) for e in entries if e.story_id is not None})
    rows = await conn.fetch(
        """
        WITH locked AS (
            SELECT count(pg_advisory_xact_lock(h)) AS n
            FROM (SELECT DISTINCT hashtextextended(s, 0) AS h
                  FROM unnest($4::text[]) AS s ORDER BY 1) AS ordered
        )
        INSERT INTO inbox (consumer, event_id, topic)
        SELECT $1::text, e.event_id, e.topic
        FROM unnest($2::uuid[], $3::text[]) AS e (event_id, topic), locked
        ON CONFLICT DO NOTHING
        RETURNING event_id
        """,
        consumer,
        [e.event_id for e in entries],
        [e.topic for e in entries],
        stories,
    )
    return {r["event_id"] for r in rows}
