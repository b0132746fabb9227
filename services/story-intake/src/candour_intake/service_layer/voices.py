"""Publishing whose voices each programme hears: `insight.voices`, through the outbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from candour_intake.service_layer.handlers import NewUnitOfWork
from candour_intake.service_layer.unit_of_work import IntakeUnitOfWork
from candour_intake.voices import summarise

log = structlog.get_logger(__name__)


async def publish_voices(
    uow: IntakeUnitOfWork, *, now: datetime | None = None, unless_within: timedelta | None = None
) -> list[str]:
    """Count the answers, suppress small counts and put one summary per programme in the
    outbox; return the programmes published.

    With `unless_within`, publish nothing if the last summary is more recent than that
    (the schedule); without it, publish now (the operator's command).
    """
    now = now or datetime.now(UTC)
    async with uow:
        await uow.about_you.lock_publishing()
        if unless_within is not None:
            last = await uow.about_you.last_published()
            if last is not None and now - last < unless_within:
                return []
        summaries = summarise(
            await uow.about_you.programmes(), await uow.about_you.answer_counts(), now
        )
        await uow.add_events(summaries)
        published = [s.programme for s in summaries]
        await uow.about_you.mark_published(published, now)
    return published


async def keep_voices_published(new_uow: NewUnitOfWork, every: timedelta) -> None:
    """The schedule: publish whenever the last summary is `every` old (checked a few
    times per interval, so a restart does not push the next summary back)."""
    check = min(every.total_seconds() / 4, 3600.0)
    while True:
        try:
            published = await publish_voices(new_uow(), unless_within=every)
            if published:
                log.info("voices summaries published", programmes=len(published))
        except (OSError, asyncpg.PostgresError) as exc:  # database away: try at the next check
            log.warning("voices summaries not published; will retry", error=repr(exc))
        await asyncio.sleep(check)
