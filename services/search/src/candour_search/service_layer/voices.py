"""Whose voices a programme hears: keep intake's summaries, show them beside the population."""

from __future__ import annotations

import uuid

import asyncpg

from candour_common.db.inbox import record_once
from candour_common.events import VoicesSummarised
from candour_search.adapters import voices_repository
from candour_search.population import Population
from candour_search.voices import VoicesView, voices_view

CONSUMER = "search"


async def record_voices(
    pool: asyncpg.Pool, event: VoicesSummarised, *, event_id: uuid.UUID
) -> None:
    """Keep the programme's newest summary (an older one arriving late changes nothing)."""
    async with pool.acquire() as conn, conn.transaction():
        if await record_once(conn, consumer=CONSUMER, event_id=event_id, topic=event.topic.value):
            await voices_repository.save(conn, event)


def choose_area(population: Population, area: str | None) -> str | None:
    """The area asked for, or the file's only (or first) area; None without figures."""
    if area is not None:
        return area
    return population.areas[0] if population.areas else None


async def programme_voices(
    pool: asyncpg.Pool, programme: str, population: Population, area: str | None
) -> VoicesView:
    async with pool.acquire() as conn:
        summary = await voices_repository.get(conn, programme)
    chosen = choose_area(population, area)
    return voices_view(
        programme,
        summary,
        chosen if chosen in population.shares else None,
        population.areas,
        population.of(chosen) if chosen is not None else {},
    )
