"""`/v1/insight/themes`: what people are saying in a programme, and how it changes.

Reading is public (published text only, as every page of search); renaming and
merging themes needs a moderator's or an operator's token.
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from candour_common.auth import Principal, Role
from candour_common.http.bearer import require_role
from candour_common.http.problems import FieldError, Problem, ProblemError
from candour_search.entrypoints.insight_http import insight_query
from candour_search.insight import InsightQuery, month_label
from candour_search.service_layer import themes as handlers
from candour_search.service_layer.themes import NewUnitOfWork
from candour_search.theme_report import InvalidMerge, ThemeNotFound, ThemeReport, ThemeSummary

router = APIRouter(prefix="/v1/insight", tags=["insight"])
PROBLEM = {422: {"model": Problem}}
CHANGES = {401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}, **PROBLEM}
CanEditThemes = Annotated[Principal, Depends(require_role(Role.MODERATOR, Role.OPERATOR))]


async def unit_of_work(request: Request) -> NewUnitOfWork:
    factory: NewUnitOfWork = request.app.state.platform.unit_of_work
    return factory


Uow = Annotated[NewUnitOfWork, Depends(unit_of_work)]


async def theme_query(query: Annotated[InsightQuery, Depends(insight_query)]) -> InsightQuery:
    if query.programme is None:
        message = "a programme is required (themes are found per programme)"
        raise ProblemError(
            422,
            f"query.programme: {message}",
            errors=[FieldError(field="query.programme", message=message)],
        )
    return query


class MonthOut(BaseModel):
    month: str = Field(description="`YYYY-MM`.")
    label: str = Field(description="The month in words, e.g. `March 2025`.")
    count: int


class SourceOut(BaseModel):
    source: str
    count: int


class QuoteOut(BaseModel):
    story_id: uuid.UUID
    title: str
    text: str = Field(description="The start of the published (moderated, redacted) story.")
    url: str = Field(description="The story's public page.")


class ThemeOut(BaseModel):
    theme_id: uuid.UUID
    name: str = Field(description="The name a person gave it, or else the label found.")
    label: str = Field(description="The label the theme finder gave it (its strongest terms).")
    terms: list[str] = Field(description="Its strongest words and phrases, strongest first.")
    count: int = Field(description="Entries in the filters that lean on this theme most.")
    negative_share: float | None = Field(
        description="Share of its rated entries that are moderately to severely critical (3-5)."
    )
    months: list[MonthOut] = Field(description="Entries per month, every month of the period.")
    sources: list[SourceOut] = Field(description="Where its entries came from, most first.")
    quotes: list[QuoteOut] = Field(description="Up to three entries that lean on it most.")
    merged: list[uuid.UUID] = Field(description="Themes a person merged into this one.")


class ThemesOut(BaseModel):
    programme: str
    built_at: str | None = Field(description="When the themes were last found; null: never.")
    entries: int = Field(description="Published entries in the filters.")
    themed: int = Field(description="Of which belonging to a theme.")
    themes: list[ThemeOut] = Field(description="Biggest first.")


class RenameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(
        min_length=1, max_length=80, description="The new name; null goes back to the label."
    )


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: uuid.UUID | None = Field(
        description="The theme to count this one as part of; null: on its own again."
    )


def _theme(request: Request, theme: ThemeSummary) -> ThemeOut:
    base = str(request.base_url).rstrip("/")
    return ThemeOut(
        theme_id=theme.theme_id,
        name=theme.title,
        label=theme.label,
        terms=list(theme.terms),
        count=theme.count,
        negative_share=theme.negative_share,
        months=[MonthOut(month=m, label=month_label(m), count=n) for m, n in theme.months],
        sources=[SourceOut(source=s, count=n) for s, n in theme.sources],
        quotes=[
            QuoteOut(
                story_id=q.story_id, title=q.title, text=q.text, url=f"{base}/stories/{q.story_id}"
            )
            for q in theme.quotes
        ],
        merged=list(theme.merged),
    )


def _out(request: Request, report: ThemeReport) -> ThemesOut:
    return ThemesOut(
        programme=report.programme,
        built_at=report.built_at,
        entries=report.entries,
        themed=report.themed,
        themes=[_theme(request, t) for t in report.themes],
    )


@router.get("/themes", response_model=ThemesOut, responses=PROBLEM)  # type: ignore[arg-type]
async def get_themes(
    request: Request, query: Annotated[InsightQuery, Depends(theme_query)], uow: Uow
) -> ThemesOut:
    return _out(request, await handlers.theme_report(uow, query))


@router.get(
    "/themes.csv",
    responses={200: {"content": {"text/csv": {}}}, **PROBLEM},  # type: ignore[dict-item]
    response_class=Response,
)
async def get_themes_csv(
    query: Annotated[InsightQuery, Depends(theme_query)], uow: Uow
) -> Response:
    """The same themes as a spreadsheet: one row per theme, one column per month."""
    report = await handlers.theme_report(uow, query)
    months = [m for m, _ in report.themes[0].months] if report.themes else []
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["theme_id", "name", "label", "terms", "count", "negative_share", "sources", *months]
    )
    for t in report.themes:
        share = "" if t.negative_share is None else f"{t.negative_share:.3f}"
        writer.writerow(
            [
                t.theme_id,
                t.title,
                t.label,
                "; ".join(t.terms),
                t.count,
                share,
                "; ".join(f"{s} {n}" for s, n in t.sources),
                *(n for _, n in t.months),
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="candour-themes.csv"'},
    )


def _not_found(theme_id: uuid.UUID) -> ProblemError:
    return ProblemError(404, f"No theme {theme_id}.")


@router.patch("/themes/{theme_id}", status_code=204, responses=CHANGES)  # type: ignore[arg-type]
async def rename_theme(
    theme_id: uuid.UUID, change: RenameIn, uow: Uow, principal: CanEditThemes
) -> Response:
    """Rename a theme; the name stays across rebuilds while the theme carries on."""
    try:
        await handlers.rename_theme(uow, theme_id, change.name, by=principal.subject)
    except ThemeNotFound as exc:
        raise _not_found(theme_id) from exc
    return Response(status_code=204)


@router.post("/themes/{theme_id}/merge", status_code=204, responses=CHANGES)  # type: ignore[arg-type]
async def merge_theme(
    theme_id: uuid.UUID, change: MergeIn, uow: Uow, principal: CanEditThemes
) -> Response:
    """Count a theme as part of another (or, with `into: null`, on its own again)."""
    try:
        await handlers.merge_theme(uow, theme_id, change.into, by=principal.subject)
    except ThemeNotFound as exc:
        raise _not_found(theme_id) from exc
    except InvalidMerge as exc:
        raise ProblemError(
            422, f"body.into: {exc}", errors=[FieldError(field="body.into", message=str(exc))]
        ) from exc
    return Response(status_code=204)
