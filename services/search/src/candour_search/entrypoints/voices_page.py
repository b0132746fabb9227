"""The deep dive's "whose voices are missing" section: its figures for the template."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from candour_common.translatable import N_
from candour_search.entrypoints.dependencies import new_unit_of_work
from candour_search.population import Population
from candour_search.service_layer.voices import programme_voices
from candour_search.voices import RULE


def _percent(share: float | None) -> str:
    return N_("no figure") if share is None else f"{round(share * 100)}%"


async def voices_section(request: Request, programme: str) -> dict[str, Any]:
    """The section's context; an area the file does not have falls back to the default."""
    population: Population = request.app.state.population
    area = request.query_params.get("area")
    if area not in population.shares:
        area = None
    view = await programme_voices(new_unit_of_work(request.app), programme, population, area)
    return {
        "view": view,
        "sentence": view.sentence(),
        "rule": RULE,
        "characteristics": [
            {
                "key": c.characteristic.value,
                "label": c.label,
                "answered": c.answered,
                "prefer_not_to_say": c.prefer_not_to_say,
                "rows": [
                    {
                        "label": s.label,
                        "count": s.count,
                        "voices": _percent(s.voice_share),
                        "population": _percent(s.population_share),
                        "under": s.under_represented,
                    }
                    for s in c.categories
                ],
            }
            for c in view.characteristics
        ],
    }
