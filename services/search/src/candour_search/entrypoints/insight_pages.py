"""The deep dive: a programme's themes as a page for commissioners.

Sortable without JavaScript (each column heading is a link), charts as inline SVG
with the same figures in tables, quotes linked to their published stories.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from candour_common.events import SOURCE_LABELS
from candour_common.translatable import N_
from candour_common.web import pages
from candour_common.web.dates import DateInWords
from candour_search.entrypoints.voices_page import voices_section
from candour_search.insight import InsightQuery, programme_label
from candour_search.service_layer import themes as handlers
from candour_search.theme_charts import movers_chart, sparkline
from candour_search.theme_report import ThemeSummary

router = APIRouter(include_in_schema=False)

SORTS = {
    "count": lambda t: (-t.count, t.title.lower()),
    "name": lambda t: (t.title.lower(),),
    "negative": lambda t: (-(t.negative_share or 0.0), t.title.lower()),
    "movement": lambda t: (-t.movement, t.title.lower()),
}


def _month(month: str) -> DateInWords:
    """ "March 2025" from "2025-03", in the page's language ("Mawrth 2025")."""
    year, number = month.split("-")
    return DateInWords(date(int(year), int(number), 1), "MMMM y")


def _row(theme: ThemeSummary) -> dict[str, Any]:
    counts = [n for _, n in theme.months]
    return {
        "theme": theme,
        "spark": sparkline(counts),
        "share": N_("no rated entries")
        if theme.negative_share is None
        else f"{round(theme.negative_share * 100)}%",
        "last_months": [(_month(m), n) for m, n in theme.months[-6:]],
    }


@router.get("/insight/{programme}", response_class=HTMLResponse)
async def deep_dive(request: Request, programme: str) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    if len(programme) > 60 or not programme.replace("-", "").isalnum():
        missing = {
            "title": N_("Programme not found"),
            "message": N_("There is no such programme."),
        }
        return pages.render(templates, request, "message.html", missing, status_code=404)
    sort = request.query_params.get("sort", "count")
    if sort not in SORTS:
        sort = "count"
    report = await handlers.theme_report(
        request.app.state.platform.unit_of_work, InsightQuery(programme=programme)
    )
    themes = sorted(report.themes, key=SORTS[sort])
    movers = report.movers()
    context: dict[str, Any] = {
        "programme": programme,
        "programme_name": programme_label(programme),
        "report": report,
        "rows": [_row(t) for t in themes],
        "sort": sort,
        "movers": movers,
        "movers_chart": movers_chart(movers),
        "last_month": _month(report.compared[1]) if report.compared else None,
        "source_labels": SOURCE_LABELS,
        "voices": await voices_section(request, programme),
    }
    return pages.render(templates, request, "deep_dive.html", context)
