"""Whose voices a programme hears: keep intake's summaries, show them beside the population."""

from __future__ import annotations

from candour_search.population import Population
from candour_search.service_layer.unit_of_work import SearchUnitOfWork
from candour_search.voices import VoicesView, voices_view


def choose_area(population: Population, area: str | None) -> str | None:
    """The area asked for, or the file's only (or first) area; None without figures."""
    if area is not None:
        return area
    return population.areas[0] if population.areas else None


async def programme_voices(
    uow: SearchUnitOfWork, programme: str, population: Population, area: str | None
) -> VoicesView:
    async with uow:
        summary = await uow.reads.voices(programme)
    chosen = choose_area(population, area)
    return voices_view(
        programme,
        summary,
        chosen if chosen in population.shares else None,
        population.areas,
        population.of(chosen) if chosen is not None else {},
    )
