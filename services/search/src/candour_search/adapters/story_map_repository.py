"""The stories of an organisation's story map: its newest of the last year."""

from __future__ import annotations

from datetime import datetime

from candour_common.db import Connection
from candour_search.domain import progress_of
from candour_search.story_map import MapStory


async def stories_since(
    conn: Connection, organisation_id: str, since: datetime, *, limit: int
) -> tuple[int, list[MapStory]]:
    """How many stories about `organisation_id` were published since `since`, and the
    newest `limit` of them (both read the organisation's b-tree)."""
    total = await conn.fetchval(
        "SELECT count(*) FROM search_stories WHERE organisation_id = $1 AND published_at >= $2",
        organisation_id,
        since,
    )
    rows = await conn.fetch(
        """
        SELECT story_id, title, published_at, criticality, response_count, change_planned,
               change_made
        FROM search_stories
        WHERE organisation_id = $1 AND published_at >= $2
        ORDER BY published_at DESC, story_id DESC
        LIMIT $3
        """,
        organisation_id,
        since,
        limit,
    )
    return int(total), [
        MapStory(
            story_id=r["story_id"],
            title=r["title"],
            published_at=r["published_at"],
            criticality=r["criticality"],
            progress=progress_of(
                responded=r["response_count"] > 0,
                change_planned=r["change_planned"],
                change_made=r["change_made"],
            ),
        )
        for r in rows
    ]
