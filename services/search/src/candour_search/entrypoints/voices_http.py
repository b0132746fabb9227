"""`/v1/insight/voices` and its CSV twin: whose voices a programme hears, beside its
population. Counts only (small ones suppressed by story-intake): no person's answers."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from candour_common.http.problems import FieldError, Problem, ProblemError
from candour_search.entrypoints.dependencies import new_unit_of_work
from candour_search.population import Population
from candour_search.service_layer.voices import programme_voices
from candour_search.voices import RULE, VoicesView

router = APIRouter(prefix="/v1/insight", tags=["insight"])
ProgrammeParam = Annotated[
    str,
    Query(max_length=60, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="e.g. mental-health"),
]
AreaParam = Annotated[
    str | None,
    Query(
        max_length=100,
        description="An area of the population file; default: its first area (alphabetically).",
    ),
]


class CategoryOut(BaseModel):
    category: str
    label: str
    count: int | None = Field(description="Stories; null: fewer than 5 (suppressed).")
    voice_share: float | None = Field(
        description="Share of the people who answered the question; null when suppressed."
    )
    population_share: float | None = Field(description="Share of the area's population.")
    under_represented: bool


class CharacteristicOut(BaseModel):
    characteristic: str
    label: str
    answered: int | None = Field(description="People who gave a category; null: fewer than 5.")
    prefer_not_to_say: int | None = Field(description="null: fewer than 5.")
    categories: list[CategoryOut]


class VoicesOut(BaseModel):
    programme: str
    area: str | None = Field(description="The population compared with; null: no figures.")
    areas: list[str] = Field(description="Every area of the population file.")
    summarised_at: datetime | None = Field(description="When story-intake last counted.")
    sentence: str = Field(description="Who is under-represented, in plain words.")
    rule: str = Field(description="How under-representation is decided.")
    characteristics: list[CharacteristicOut]


async def _view(request: Request, programme: str, area: str | None) -> VoicesView:
    population: Population = request.app.state.population
    if area is not None and area not in population.shares:
        known = ", ".join(population.areas) or "none: no population file is set"
        message = f"no population figures for this area (areas: {known})"
        raise ProblemError(
            422,
            f"query.area: {message}",
            errors=[FieldError(field="query.area", message=message)],
        )
    return await programme_voices(new_unit_of_work(request.app), programme, population, area)


def voices_out(view: VoicesView) -> VoicesOut:
    return VoicesOut(
        programme=view.programme,
        area=view.area,
        areas=view.areas,
        summarised_at=view.summarised_at,
        sentence=view.sentence(),
        rule=RULE,
        characteristics=[
            CharacteristicOut(
                characteristic=c.characteristic.value,
                label=c.label,
                answered=c.answered,
                prefer_not_to_say=c.prefer_not_to_say,
                categories=[
                    CategoryOut(
                        category=s.category,
                        label=s.label,
                        count=s.count,
                        voice_share=s.voice_share,
                        population_share=s.population_share,
                        under_represented=s.under_represented,
                    )
                    for s in c.categories
                ],
            )
            for c in view.characteristics
        ],
    )


@router.get(
    "/voices",
    response_model=VoicesOut,
    responses={422: {"model": Problem}},
    description=(
        "Per characteristic (age band, sex, ethnic group, disability), the share of a "
        "programme's voices in each category beside the area's population share, and a "
        "sentence naming who is under-represented (`rule` says how). Counts under 5 are null."
    ),
)
async def voices(request: Request, programme: ProgrammeParam, area: AreaParam = None) -> VoicesOut:
    return voices_out(await _view(request, programme, area))


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}"


@router.get(
    "/voices.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, 422: {"model": Problem}},
    description="The same as `/v1/insight/voices`, one row per category; "
    "`fewer than 5` where a count is suppressed.",
)
async def voices_csv(
    request: Request, programme: ProgrammeParam, area: AreaParam = None
) -> Response:
    view = await _view(request, programme, area)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "programme",
            "area",
            "characteristic",
            "category",
            "stories",
            "share_of_voices_percent",
            "share_of_population_percent",
            "under_represented",
        ]
    )
    for c in view.characteristics:
        for s in c.categories:
            writer.writerow(
                [
                    view.programme,
                    view.area or "",
                    c.characteristic.value,
                    s.category,
                    "fewer than 5" if s.count is None else s.count,
                    _percent(s.voice_share),
                    _percent(s.population_share),
                    "yes" if s.under_represented else "no",
                ]
            )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="voices-{view.programme}.csv"'},
    )
