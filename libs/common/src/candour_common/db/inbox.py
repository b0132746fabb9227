"""Inbox: remember processed event ids so redelivery changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from candour_common.db import Connection
from candour_common.events import Event


async def record_once(
    conn: Connection,
    *,
    consumer: str,
    event_id: uuid.UUID,
    topic: str,
    story_id: uuid.UUID | None = None,
) -> bool:
    """Record the event in the caller's transaction; False if it was processed before.

    With `story_id`, first take that story's lock (as `lock_story` does) in the same
    round trip: the consumers that serialise a story's writers do both for every event.
    """
    if story_id is None:
        status = await conn.execute(
            """
            INSERT INTO inbox (consumer, event_id, topic) VALUES ($1, $2, $3)
            ON CONFLICT DO NOTHING
            """,
            consumer,
            event_id,
            topic,
        )
    else:
        status = await conn.execute(
            """
            WITH locked AS (SELECT pg_advisory_xact_lock(hashtextextended($4::text, 0)))
            INSERT INTO inbox (consumer, event_id, topic)
            SELECT $1::text, $2::uuid, $3::text FROM locked
            ON CONFLICT DO NOTHING
            """,
            consumer,
            event_id,
            topic,
            str(story_id),
        )
    return bool(status == "INSERT 0 1")


async def record_story_event_once(
    conn: Connection, event: Event, *, consumer: str, event_id: uuid.UUID
) -> bool:
    """`record_once` for `event`, taking its story's lock in the same statement.

    For consumers that serialise the writers of one story (see `lock_story`).
    """
    return await record_once(
        conn,
        consumer=consumer,
        event_id=event_id,
        topic=event.topic.value,
        story_id=event.story_id,
    )


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
