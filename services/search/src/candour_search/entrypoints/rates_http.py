"""`/v1/stats/organisations`: the response-rate table, as JSON and as CSV."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from candour_common.http.problems import FieldError, Problem, ProblemError
from candour_search.entrypoints.dependencies import Uow
from candour_search.response_rates import PERIODS, OrganisationRate, RateSort
from candour_search.service_layer import open_data

router = APIRouter(prefix="/v1/stats", tags=["statistics"])
PROBLEM = {"model": Problem}
Days = Annotated[
    int, Query(description="The period: stories published in the last 30, 90 or 365 days.")
]
Sorting = Annotated[RateSort, Query(description="The field to sort by.")]
Order = Annotated[
    Literal["asc", "desc"] | None,
    Query(description="Default: descending, but ascending for the name and the id."),
]


class OrganisationRateOut(BaseModel):
    organisation_id: str = Field(description="ODS code.")
    name: str
    stories: int = Field(description="Stories published in the period.")
    responded: int = Field(description="Of which answered at least once.")
    response_rate: float = Field(description="responded / stories.")
    median_hours_to_first_response: float | None = Field(
        description="Among the answered stories; null when none was answered."
    )
    changes_planned: int = Field(description="Stories whose answer says a change is planned.")
    changes_made: int = Field(description="Stories whose answer says a change was made.")


class OrganisationRatesOut(BaseModel):
    days: int
    sort: RateSort
    order: Literal["asc", "desc"]
    items: list[OrganisationRateOut]


def _order(sort: RateSort, order: str | None) -> Literal["asc", "desc"]:
    if order == "asc" or (order is None and sort in (RateSort.NAME, RateSort.ORGANISATION_ID)):
        return "asc"
    return "desc"


async def _rates(
    uow: Uow, days: int, sort: RateSort, order: str | None
) -> tuple[Literal["asc", "desc"], list[OrganisationRate]]:
    if days not in PERIODS:
        message = f"must be one of {', '.join(map(str, PERIODS))}"
        raise ProblemError(
            422,
            f"query.days: {message}",
            errors=[FieldError(field="query.days", message=message, type="value_error")],
        )
    direction = _order(sort, order)
    rates = await open_data.organisation_rates(uow, days, sort=sort, descending=direction == "desc")
    return direction, rates


def _item(rate: OrganisationRate) -> OrganisationRateOut:
    return OrganisationRateOut(
        organisation_id=rate.organisation_id,
        name=rate.name,
        stories=rate.stories,
        responded=rate.responded,
        response_rate=round(rate.response_rate, 4),
        median_hours_to_first_response=rate.median_hours_to_first_response,
        changes_planned=rate.changes_planned,
        changes_made=rate.changes_made,
    )


@router.get(
    "/organisations",
    response_model=OrganisationRatesOut,
    summary="Who listens: each organisation's stories, answers, time to answer and changes",
    responses={422: PROBLEM, 503: PROBLEM},
)
async def organisation_rates(
    uow: Uow,
    days: Days = 30,
    sort: Sorting = RateSort.RESPONSE_RATE,
    order: Order = None,
) -> OrganisationRatesOut:
    direction, rates = await _rates(uow, days, sort, order)
    return OrganisationRatesOut(
        days=days, sort=sort, order=direction, items=[_item(r) for r in rates]
    )


@router.get(
    "/organisations.csv",
    response_class=Response,
    summary="The response-rate table as a spreadsheet",
    responses={200: {"content": {"text/csv": {}}}, 422: PROBLEM, 503: PROBLEM},
)
async def organisation_rates_csv(
    uow: Uow,
    days: Days = 30,
    sort: Sorting = RateSort.RESPONSE_RATE,
    order: Order = None,
) -> Response:
    _, rates = await _rates(uow, days, sort, order)
    out = io.StringIO()
    writer = csv.writer(out)
    fields = list(OrganisationRateOut.model_fields)
    writer.writerow(fields)
    for rate in rates:
        row = _item(rate).model_dump()
        writer.writerow(["" if row[f] is None else row[f] for f in fields])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="candour-who-listens-{days}-days.csv"'
        },
    )
