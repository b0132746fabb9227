"""The "Who listens" page: the response-rate table, sortable without JavaScript, and a
chart of response rate against stories with the table as its text alternative."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from candour_common.translatable import N_, Filled
from candour_search.charts import hours_text
from candour_search.entrypoints import welsh_names
from candour_search.entrypoints.dependencies import Uow
from candour_search.rate_chart import rate_chart
from candour_search.response_rates import PERIODS, RateSort
from candour_search.service_layer import open_data

router = APIRouter(include_in_schema=False)

COLUMNS = (
    (RateSort.NAME, N_("Organisation")),
    (RateSort.STORIES, N_("Stories")),
    (RateSort.RESPONSE_RATE, N_("Answered")),
    (RateSort.MEDIAN_HOURS, N_("Median time to first response")),
    (RateSort.CHANGES_PLANNED, N_("Changes planned")),
    (RateSort.CHANGES_MADE, N_("Changes made")),
)


@router.get("/who-listens", response_class=HTMLResponse)
async def who_listens(request: Request, uow: Uow) -> HTMLResponse:
    params = request.query_params
    days = int(params["days"]) if params.get("days") in {str(p) for p in PERIODS} else 30
    try:
        sort = RateSort(params.get("sort", RateSort.RESPONSE_RATE.value))
    except ValueError:
        sort = RateSort.RESPONSE_RATE
    default_desc = sort not in (RateSort.NAME, RateSort.ORGANISATION_ID)
    descending = {"asc": False, "desc": True}.get(params.get("order", ""), default_desc)
    rates = await open_data.organisation_rates(uow, days, sort=sort, descending=descending)
    welsh = await welsh_names.page_welsh_names(request)
    rows = [
        {
            "rate": r,
            "answered": Filled(
                N_("{share}% ({answered} of {stories})"),
                share=round(r.response_rate * 100),
                answered=r.responded,
                stories=r.stories,
            ),
            "median": hours_text(r.median_hours_to_first_response),
        }
        for r in rates
    ]
    columns = [
        {
            "label": label,
            "sorted": column is sort,
            "direction": ("descending" if descending else "ascending") if column is sort else None,
            "link": f"?days={days}&sort={column.value}"
            + (f"&order={'asc' if descending else 'desc'}" if column is sort else ""),
        }
        for column, label in COLUMNS
    ]
    context: dict[str, Any] = {
        "days": days,
        "periods": PERIODS,
        "sort": sort.value,
        "rows": rows,
        "columns": columns,
        "chart": rate_chart(rates, welsh),
    }
    return await welsh_names.render_naming_organisations(
        request, "who_listens.html", context, welsh_names=welsh
    )
