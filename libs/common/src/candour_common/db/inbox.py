"""Inbox: remember processed event ids so redelivery changes nothing."""

from __future__ import annotations

import uuid

from candour_common.db import Connection


async def record_once(conn: Connection, *, consumer: str, event_id: uuid.UUID, topic: str) -> bool:
    """Record the event in the caller's transaction; False if it was processed before."""
    status = await conn.execute(
        """
        INSERT INTO inbox (consumer, event_id, topic) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING
        """,
        consumer,
        event_id,
        topic,
    )
    return bool(status == "INSERT 0 1")
