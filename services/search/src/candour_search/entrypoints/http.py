"""HTTP routes of search (thin: validate, call a handler, shape the answer)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from candour_common.events import CRITICALITY_LABELS, ChangeMarker, StoryLanguage
from candour_common.http.problems import FieldError, Problem, ProblemError
from candour_search.domain import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_QUERY_CHARS,
    RELEVANCE_WINDOW,
    FacetCount,
    InvalidQuery,
    Progress,
    PublishedStory,
    Ref,
    SearchPage,
    SearchStories,
    Sort,
    StatsGrouping,
    StatsReport,
    StoryStats,
    StoryStatsQuery,
)
from candour_search.entrypoints.dependencies import Uow
from candour_search.entrypoints.schemas import (
    AuthorOut,
    FacetOut,
    FacetsOut,
    RefOut,
    ResponderOut,
    ResponseOut,
    SearchOut,
    SearchResultOut,
    StatsGroupOut,
    StatsOut,
    StoryOut,
    StoryStatsOut,
    TagsOut,
)
from candour_search.service_layer import handlers

router = APIRouter(prefix="/v1")
PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}


Code = Annotated[str, Query(min_length=1, max_length=40)]
Criticality = Annotated[int, Query(ge=0, le=5)]


async def search_query(
    q: Annotated[
        str | None,
        Query(
            max_length=MAX_QUERY_CHARS,
            description=(
                'Web-search syntax: words, "quoted phrases", `or`, `-word`. '
                "Empty or absent: every story, newest first."
            ),
        ),
    ] = None,
    organisation_id: Annotated[Code | None, Query(description="ODS code.")] = None,
    service_id: Code | None = None,
    tag: Annotated[
        list[str],
        Query(description="Repeat for several; a story must have every one (case-insensitive)."),
    ] = [],  # noqa: B006 - FastAPI copies defaults; a list is how it declares repeatable params
    min_criticality: Criticality | None = None,
    max_criticality: Criticality | None = None,
    responded: Annotated[
        bool | None, Query(description="Only stories with (true) or without (false) a response.")
    ] = None,
    change: Annotated[
        ChangeMarker | None,
        Query(description="Only stories with a response saying a change is planned or made."),
    ] = None,
    progress: Annotated[
        Progress | None,
        Query(
            description="Only stories standing at this stage: `published` (no response "
            "yet), `responded` (answered, no change), `change_planned` (a change planned, "
            "none made yet) or `change_made`."
        ),
    ] = None,
    published_from: Annotated[date | None, Query(description="Inclusive, UTC.")] = None,
    published_to: Annotated[date | None, Query(description="Inclusive, UTC.")] = None,
    language: Annotated[
        StoryLanguage | None,
        Query(
            description="Only stories written in this language: `en` (English) or `cy` "
            "(Welsh). Words match English stories with English stemming (`nurse` finds "
            "`nurses`) and Welsh ones as written (no stemming)."
        ),
    ] = None,
    sort: Annotated[
        Sort | None,
        Query(
            description="Default: relevance when `q` is given, otherwise newest. By "
            f"relevance the {RELEVANCE_WINDOW} newest matching stories are ranked (words "
            "in the title weigh most, then the story, tags and names, then responses); "
            "older matches follow them, newest first."
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=1000, description="`next_cursor` of the previous page.")
    ] = None,
) -> SearchStories:
    try:
        return SearchStories(
            q=q,
            organisation_id=organisation_id,
            service_id=service_id,
            tags=tuple(tag),
            min_criticality=min_criticality,
            max_criticality=max_criticality,
            responded=responded,
            change=change,
            progress=progress,
            published_from=published_from,
            published_to=published_to,
            language=language,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )
    except InvalidQuery as exc:
        raise _invalid(exc) from exc


def _invalid(exc: InvalidQuery) -> ProblemError:
    field = f"query.{exc.parameter}"
    return ProblemError(
        422,
        f"{field}: {exc.message}",
        title="Invalid request",
        errors=[FieldError(field=field, message=exc.message, type="value_error")],
    )


async def stats_query(
    organisation_id: Annotated[Code | None, Query(description="ODS code.")] = None,
    service_id: Code | None = None,
    published_from: Annotated[
        date | None, Query(alias="from", description="Published on or after (UTC date).")
    ] = None,
    published_to: Annotated[
        date | None, Query(alias="to", description="Published on or before (UTC date).")
    ] = None,
    group_by: Annotated[
        StatsGrouping | None, Query(description="Also give the figures per month, tag, ...")
    ] = None,
) -> StoryStatsQuery:
    try:
        return StoryStatsQuery(
            organisation_id=organisation_id,
            service_id=service_id,
            published_from=published_from,
            published_to=published_to,
            group_by=group_by,
        )
    except InvalidQuery as exc:
        raise _invalid(exc) from exc


def _ref(ref: Ref | None) -> RefOut | None:
    return RefOut(id=ref.id, name=ref.name) if ref is not None else None


def _facets(values: tuple[FacetCount, ...]) -> list[FacetOut]:
    return [FacetOut(value=f.value, label=f.label, count=f.count) for f in values]


def _search_out(page: SearchPage) -> SearchOut:
    return SearchOut(
        total=page.total,
        total_is_estimate=page.total_is_estimate,
        facets_are_estimates=page.facets_are_estimates,
        results=[
            SearchResultOut(
                story_id=h.story_id,
                title=h.title,
                snippet=h.snippet,
                organisation=RefOut(id=h.organisation.id, name=h.organisation.name),
                service=_ref(h.service),
                tags=list(h.tags),
                criticality=h.criticality,
                published_at=h.published_at,
                response_count=h.response_count,
                progress=h.progress,
                language=h.language,
            )
            for h in page.hits
        ],
        facets=FacetsOut(
            organisation=_facets(page.facets.organisation),
            service=_facets(page.facets.service),
            tag=_facets(page.facets.tag),
            criticality=_facets(page.facets.criticality),
        ),
        next_cursor=page.next_cursor,
    )


def _story_out(story: PublishedStory) -> StoryOut:
    return StoryOut(
        story_id=story.story_id,
        revision=story.revision,
        title=story.title,
        body=story.body,
        organisation=RefOut(id=story.organisation.id, name=story.organisation.name),
        service=_ref(story.service),
        author=AuthorOut(display_name=story.shown_author, relationship=story.author_relationship),
        tags=TagsOut(
            good=list(story.tags.good),
            improve=list(story.tags.improve),
            feelings=list(story.tags.feelings),
        ),
        criticality=story.criticality,
        criticality_label=(
            CRITICALITY_LABELS[story.criticality] if story.criticality is not None else None
        ),
        experienced_at=story.experienced_at,
        published_at=story.published_at,
        response_count=len(story.responses),
        progress=story.progress,
        language=story.language,
        responses=[
            ResponseOut(
                response_id=r.response_id,
                posted_at=r.posted_at,
                responder=ResponderOut(display_name=r.responder_name, role=r.responder_role),
                body=r.body,
                change=r.change,
            )
            for r in story.responses
        ],
    )


@router.get(
    "/search",
    response_model=SearchOut,
    tags=["search"],
    summary="Search published stories",
    responses={422: PROBLEM, 503: PROBLEM},
)
async def search(query: Annotated[SearchStories, Depends(search_query)], uow: Uow) -> SearchOut:
    return _search_out(await handlers.search(uow, query))


@router.get(
    "/stories/{story_id}",
    response_model=StoryOut,
    tags=["stories"],
    summary="A published story with its responses",
    responses={404: PROBLEM, 422: PROBLEM, 503: PROBLEM},
)
async def get_story(story_id: UUID, uow: Uow) -> StoryOut:
    story = await handlers.get_story(uow, story_id)
    if story is None:
        raise ProblemError(404, f"No published story {story_id}.")
    return _story_out(story)


def _figures(stats: StoryStats) -> dict[str, int | float | bool | None]:
    return {
        "stories": stats.stories,
        "responded": stats.responded,
        "responded_share": stats.responded_share,
        "median_hours_to_first_response": stats.median_hours_to_first_response,
        "change_planned": stats.change_planned,
        "change_made": stats.change_made,
        "counts_are_estimates": stats.counts_are_estimates,
        "median_is_estimate": stats.median_is_estimate,
    }


def _stats_out(report: StatsReport) -> StatsOut:
    return StatsOut(
        overall=StoryStatsOut.model_validate(_figures(report.overall)),
        group_by=report.group_by,
        groups=[
            StatsGroupOut.model_validate({"value": g.value, "label": g.label, **_figures(g.stats)})
            for g in report.groups
        ],
    )


@router.get(
    "/stats",
    response_model=StatsOut,
    tags=["statistics"],
    summary="How stories were answered: counts, response share, time to respond, changes",
    responses={422: PROBLEM, 503: PROBLEM},
)
async def story_stats(
    query: Annotated[StoryStatsQuery, Depends(stats_query)], uow: Uow
) -> StatsOut:
    return _stats_out(await handlers.story_stats(uow, query))
