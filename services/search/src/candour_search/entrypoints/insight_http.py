"""`GET /v1/insight` and `/v1/insight.csv`: how much was heard, and from how many people."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from candour_common.events import Source
from candour_common.http.problems import FieldError, Problem, ProblemError
from candour_search.domain import InvalidQuery
from candour_search.entrypoints.dependencies import Uow
from candour_search.insight import InsightQuery, InsightReport, Reach
from candour_search.service_layer import open_data

router = APIRouter(prefix="/v1", tags=["insight"])
Programme = Annotated[
    str | None,
    Query(max_length=60, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="e.g. mental-health"),
]


class ReachOut(BaseModel):
    entries: int = Field(description="Published entries.")
    individuals: int = Field(description="People those entries speak for.")
    patients: int
    carers: int
    staff: int
    other: int = Field(description="Individuals not counted as patients, carers or staff.")


class ReachGroupOut(ReachOut):
    value: str
    label: str


class InsightOut(BaseModel):
    summary: str = Field(description="A plain-language sentence for a report.")
    overall: ReachOut = Field(description="Every filter but the programme.")
    programme: ReachOut | None = Field(description="The programme's share, when one was asked for.")
    responded_share: float | None = Field(description="Share with at least one response.")
    by_source: list[ReachGroupOut]
    by_programme: list[ReachGroupOut]
    by_month: list[ReachGroupOut]


async def insight_query(
    published_from: Annotated[
        date | None, Query(alias="from", description="Published on or after.")
    ] = None,
    published_to: Annotated[
        date | None, Query(alias="to", description="Published on or before.")
    ] = None,
    programme: Programme = None,
    organisation_id: Annotated[str | None, Query(max_length=20)] = None,
    source: Source | None = None,
) -> InsightQuery:
    try:
        return InsightQuery(published_from, published_to, programme, organisation_id, source)
    except InvalidQuery as exc:
        field = f"query.{exc.parameter}"
        raise ProblemError(
            422, f"{field}: {exc.message}", errors=[FieldError(field=field, message=exc.message)]
        ) from exc


def _reach(reach: Reach) -> dict[str, int]:
    return {
        "entries": reach.entries,
        "individuals": reach.individuals,
        "patients": reach.patients,
        "carers": reach.carers,
        "staff": reach.staff,
        "other": reach.other,
    }


def _out(report: InsightReport) -> InsightOut:
    return InsightOut(
        summary=report.summary(),
        overall=ReachOut(**_reach(report.overall)),
        programme=ReachOut(**_reach(report.selected)) if report.selected else None,
        responded_share=report.responded_share,
        by_source=[
            ReachGroupOut(value=g.value, label=g.label, **_reach(g.reach)) for g in report.by_source
        ],
        by_programme=[
            ReachGroupOut(value=g.value, label=g.label, **_reach(g.reach))
            for g in report.by_programme
        ],
        by_month=[
            ReachGroupOut(value=g.value, label=g.label, **_reach(g.reach)) for g in report.by_month
        ],
    )


PROBLEM = {422: {"model": Problem, "content": {"application/problem+json": {}}}}


@router.get("/insight", response_model=InsightOut, responses=PROBLEM)  # type: ignore[arg-type]
async def get_insight(
    query: Annotated[InsightQuery, Depends(insight_query)],
    uow: Uow,
) -> InsightOut:
    return _out(await open_data.insight(uow, query))


@router.get(
    "/insight.csv",
    responses={200: {"content": {"text/csv": {}}}, **PROBLEM},  # type: ignore[dict-item]
    response_class=Response,
)
async def get_insight_csv(
    query: Annotated[InsightQuery, Depends(insight_query)],
    uow: Uow,
) -> Response:
    """The same figures as a spreadsheet: one row per section and value."""
    report = await open_data.insight(uow, query)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "section",
            "value",
            "label",
            "entries",
            "individuals",
            "patients",
            "carers",
            "staff",
            "other",
        ]
    )

    def row(section: str, value: str, label: str, reach: Reach) -> None:
        r = _reach(reach)
        writer.writerow(
            [
                section,
                value,
                label,
                *(r[k] for k in ("entries", "individuals", "patients", "carers", "staff", "other")),
            ]
        )

    row("overall", "", "All feedback", report.overall)
    if report.selected is not None and query.programme is not None:
        row("programme", query.programme, query.programme.replace("-", " "), report.selected)
    for section, groups in (
        ("source", report.by_source),
        ("programme_breakdown", report.by_programme),
        ("month", report.by_month),
    ):
        for g in groups:
            row(section, g.value, g.label, g.reach)
    writer.writerow([])
    writer.writerow(["summary", report.summary()])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="candour-insight.csv"'},
    )
