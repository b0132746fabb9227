"""asyncpg persistence of the newest version seen of each staff response, and the changes
a newer version makes to emails not sent yet."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from candour_common.db import Connection


@dataclass(frozen=True, slots=True)
class SeenVersion:
    version: int
    deleted: bool
    alerted_by: uuid.UUID


async def seen(conn: Connection, response_id: uuid.UUID) -> SeenVersion | None:
    """The newest version seen of the response (locked until the transaction ends)."""
    row = await conn.fetchrow(
        "SELECT version, deleted, alerted_by FROM response_versions"
        " WHERE response_id = $1 FOR UPDATE",
        response_id,
    )
    if row is None:
        return None
    return SeenVersion(row["version"], row["deleted"], row["alerted_by"])


async def record_first(
    conn: Connection,
    response_id: uuid.UUID,
    story_id: uuid.UUID,
    version: int,
    *,
    deleted: bool,
    event_id: uuid.UUID,
) -> bool:
    """The first version seen of a response; False if another was recorded meanwhile."""
    status = await conn.execute(
        """
        INSERT INTO response_versions (response_id, story_id, version, deleted, alerted_by)
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT (response_id) DO NOTHING
        """,
        response_id,
        story_id,
        version,
        deleted,
        event_id,
    )
    return bool(status == "INSERT 0 1")


async def record_newer(
    conn: Connection, response_id: uuid.UUID, version: int, *, deleted: bool
) -> None:
    await conn.execute(
        "UPDATE response_versions SET version = $2, deleted = $3 WHERE response_id = $1",
        response_id,
        version,
        deleted,
    )


async def correct_unsent(
    conn: Connection,
    response_id: uuid.UUID,
    alerted_by: uuid.UUID,
    version: int,
    changes: dict[str, object],
) -> None:
    """An email about the response not sent yet, and a digest item still waiting, carry
    the corrected text."""
    patch = json.dumps(changes)
    await conn.execute(
        """
        UPDATE deliveries SET context = context || $2::jsonb, updated_at = now()
        WHERE event_id = $1 AND status = 'pending'
        """,
        alerted_by,
        patch,
    )
    await conn.execute(
        """
        UPDATE digest_items SET context = context || $2::jsonb, revision = $3
        WHERE item_key = $1 AND digest_delivery_id IS NULL AND revision < $3
        """,
        digest_item_key(response_id),
        patch,
        version,
    )


async def cancel_unsent(conn: Connection, response_id: uuid.UUID, alerted_by: uuid.UUID) -> int:
    """The response was deleted: its emails not sent yet are cancelled (their text goes)
    and it leaves every digest still waiting. Returns how many emails were cancelled."""
    cancelled = await conn.fetchval(
        """
        WITH cancelled AS (
            UPDATE deliveries SET status = 'cancelled', context = '{}'::jsonb,
                   updated_at = now()
            WHERE event_id = $1 AND status = 'pending'
            RETURNING 1
        )
        SELECT count(*) FROM cancelled
        """,
        alerted_by,
    )
    await conn.execute(
        "DELETE FROM digest_items WHERE item_key = $1 AND digest_delivery_id IS NULL",
        digest_item_key(response_id),
    )
    return int(cancelled or 0)


async def forget_story(conn: Connection, story_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM response_versions WHERE story_id = $1", story_id)


def digest_item_key(response_id: uuid.UUID) -> str:
    return f"response:{response_id}"


class PostgresResponseVersions:
    """The versions of responses seen, on the unit of work's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def seen(self, response_id: uuid.UUID) -> SeenVersion | None:
        return await seen(self._conn, response_id)

    async def record_first(
        self,
        response_id: uuid.UUID,
        story_id: uuid.UUID,
        version: int,
        *,
        deleted: bool,
        event_id: uuid.UUID,
    ) -> bool:
        return await record_first(
            self._conn, response_id, story_id, version, deleted=deleted, event_id=event_id
        )

    async def record_newer(self, response_id: uuid.UUID, version: int, *, deleted: bool) -> None:
        await record_newer(self._conn, response_id, version, deleted=deleted)

    async def correct_unsent(
        self,
        response_id: uuid.UUID,
        alerted_by: uuid.UUID,
        version: int,
        changes: dict[str, object],
    ) -> None:
        await correct_unsent(self._conn, response_id, alerted_by, version, changes)

    async def cancel_unsent(self, response_id: uuid.UUID, alerted_by: uuid.UUID) -> int:
        return await cancel_unsent(self._conn, response_id, alerted_by)

    async def forget_story(self, story_id: uuid.UUID) -> None:
        await forget_story(self._conn, story_id)
