"""Publishing whose voices each programme hears: `insight.voices`, through the outbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from candour_common.db import Connection
from candour_common.db.outbox import add_event
from candour_intake.adapters import about_you_repository
from candour_intake.voices import summarise

log = structlog.get_logger(__name__)

SERVICE = "story-intake"
# Copies of intake publishing at the same moment take turns (the second then finds the
# summary fresh and publishes nothing).
_PUBLISH_LOCK_KEY = 0x564F49434553  # "VOICES"


async def publish_voices(
    conn: Connection, *, now: datetime | None = None, unless_within: timedelta | None = None
) -> list[str]:
    """Count the answers, suppress small counts and put one summary per programme in the
    outbox, in the caller's transaction; return the programmes published.

    With `unless_within`, publish nothing if the last summary is more recent than that
    (the schedule); without it, publish now (the operator's command).
    """
    now = now or datetime.now(UTC)
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _PUBLISH_LOCK_KEY)
    if unless_within is not None:
        last = await about_you_repository.last_published(conn)
        if last is not None and now - last < unless_within:
            return []
    summaries = summarise(
        await about_you_repository.programmes(conn),
        await about_you_repository.answer_counts(conn),
        now,
    )
    for summary in summaries:
        await add_event(conn, summary, service=SERVICE)
    published = [s.programme for s in summaries]
    await about_you_repository.mark_published(conn, published, now)
    return published


async def keep_voices_published(pool: asyncpg.Pool, every: timedelta) -> None:
    """The schedule: publish whenever the last summary is `every` old (checked a few
    times per interval, so a restart does not push the next summary back)."""
    check = min(every.total_seconds() / 4, 3600.0)
    while True:
        try:
            async with pool.acquire() as conn, conn.transaction():
                published = await publish_voices(conn, unless_within=every)
            if published:
                log.info("voices summaries published", programmes=len(published))
        except (OSError, asyncpg.PostgresError) as exc:  # database away: try at the next check
            log.warning("voices summaries not published; will retry", error=repr(exc))
        await asyncio.sleep(check)
