"""Search's public web pages: the newest stories, search, a story, an organisation.

Server-rendered and usable without JavaScript: the search filters are a plain GET
form, pagination is a link. The pages call the same service-layer handlers (and the
same query validation) as the /v1 API and stay out of the OpenAPI document. Bad
parameters re-render the page with a message (422); unknown or withdrawn stories
get a 404 page; nothing here answers with problem+json, people read these.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.datastructures import QueryParams

from candour_common.events import (
    CRITICALITY_LABELS,
    RELATIONSHIP_LABELS,
    ChangeMarker,
    StoryLanguage,
)
from candour_common.translatable import N_, Filled
from candour_common.web import i18n, pages
from candour_common.web.dates import DateInWords
from candour_search import charts
from candour_search.domain import (
    MAX_QUERY_CHARS,
    PROGRESS_LABELS,
    FacetCount,
    InvalidQuery,
    Progress,
    SearchPage,
    SearchStories,
    StatsGrouping,
    StatsReport,
    StoryStats,
    StoryStatsQuery,
)
from candour_search.entrypoints import welsh_names
from candour_search.entrypoints.dependencies import new_unit_of_work
from candour_search.service_layer import handlers
from candour_search.service_layer.unit_of_work import SearchUnitOfWork
from candour_search.settings import SearchSettings
from candour_search.story_map import MAP_COLOUR_LABELS, MapColour

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 10
NEWEST_ON_HOME = 10
RECENT_ON_ORGANISATION = 5
# The same bounds as the /v1 API's query parameters (entrypoints/http.py).
MAX_CODE_CHARS = 40
MAX_CURSOR_CHARS = 1000

CHANGE_LABELS: dict[str, str] = {
    ChangeMarker.PLANNED: N_("Change planned"),
    ChangeMarker.MADE: N_("Change made"),
}
RESPONDED_CHOICES = {"": N_("Any"), "true": N_("Answered"), "false": N_("Not answered yet")}
PROGRESS_CHOICES = {"": N_("Any"), **{p.value: label for p, label in PROGRESS_LABELS.items()}}


def create_templates(settings: SearchSettings) -> Jinja2Templates:
    """This service's templates, falling back to the shared layout and macros."""
    templates = pages.create_templates(TEMPLATES_DIR, settings)
    templates.env.filters["count"] = _count
    templates.env.globals["criticality_labels"] = CRITICALITY_LABELS
    templates.env.globals["relationship_labels"] = RELATIONSHIP_LABELS
    templates.env.globals["change_labels"] = CHANGE_LABELS
    templates.env.globals["progress_labels"] = PROGRESS_LABELS
    templates.env.globals["progress_stages"] = list(Progress)
    templates.env.globals["organisation_name"] = welsh_names.organisation_name
    return templates


def _uow(request: Request) -> SearchUnitOfWork:
    return new_unit_of_work(request.app)


def _render(
    request: Request, name: str, context: Mapping[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    return pages.render(templates, request, name, context, status_code=status_code)


def _not_found(request: Request, title: str, message: str) -> HTMLResponse:
    context = {"title": title, "message": message}
    return _render(request, "message.html", context, status_code=404)


# ---------------------------------------------------------------- search form


@dataclass(frozen=True, slots=True)
class SearchForm:
    """What the search form holds, as submitted (strings, for re-rendering)."""

    q: str = ""
    organisation_id: str = ""
    service_id: str = ""
    tags: tuple[str, ...] = ()
    min_criticality: str = ""
    responded: str = ""
    progress: str = ""
    language: str = ""
    cursor: str = ""

    @classmethod
    def from_params(cls, params: QueryParams) -> SearchForm:
        def text(name: str) -> str:
            return (params.get(name) or "").strip()

        return cls(
            q=text("q"),
            organisation_id=text("organisation_id"),
            service_id=text("service_id"),
            tags=tuple(t.strip() for t in params.getlist("tag") if t.strip()),
            min_criticality=text("min_criticality"),
            responded=text("responded"),
            progress=text("progress"),
            language=text("language"),
            cursor=text("cursor"),
        )

    @property
    def filtered(self) -> bool:
        return any(
            (
                self.organisation_id,
                self.service_id,
                self.tags,
                self.min_criticality,
                self.responded,
                self.progress,
                self.language,
            )
        )

    def link_params(self) -> list[tuple[str, str]]:
        """The non-empty parameters (without the cursor), to link to another page."""
        pairs = [
            ("q", self.q),
            ("organisation_id", self.organisation_id),
            ("service_id", self.service_id),
            *(("tag", t) for t in self.tags),
            ("min_criticality", self.min_criticality),
            ("responded", self.responded),
            ("progress", self.progress),
            ("language", self.language),
        ]
        return [(name, value) for name, value in pairs if value]

    def to_query(self) -> tuple[SearchStories | None, dict[str, str]]:
        """The validated query, or None and a message per field (as the API validates)."""
        errors: dict[str, str] = {}
        for name in ("organisation_id", "service_id"):
            if len(getattr(self, name)) > MAX_CODE_CHARS:
                errors[name] = Filled(
                    N_("The code must be at most {limit} characters."), limit=MAX_CODE_CHARS
                )
        if len(self.q) > MAX_QUERY_CHARS:
            errors["q"] = Filled(
                N_("Search words must be at most {limit} characters."), limit=MAX_QUERY_CHARS
            )
        if len(self.cursor) > MAX_CURSOR_CHARS:
            errors["cursor"] = N_("This page link is not one we made; start the search again.")
        min_criticality: int | None = None
        if self.min_criticality:
            try:
                min_criticality = int(self.min_criticality)
            except ValueError:
                min_criticality = -1
            if not 0 <= min_criticality <= 5:
                errors["min_criticality"] = N_("Choose a criticality from the list (0 to 5).")
        responded: bool | None = None
        if self.responded:
            if self.responded not in ("true", "false"):
                errors["responded"] = N_("Choose whether the stories have been answered.")
            responded = self.responded == "true"
        progress: Progress | None = None
        if self.progress:
            try:
                progress = Progress(self.progress)
            except ValueError:
                errors["progress"] = N_("Choose where the stories stand from the list.")
        language: StoryLanguage | None = None
        if self.language:
            try:
                language = StoryLanguage(self.language)
            except ValueError:
                errors["language"] = N_("Choose a language from the list.")
        if errors:
            return None, errors
        try:
            return (
                SearchStories(
                    q=self.q or None,
                    organisation_id=self.organisation_id or None,
                    service_id=self.service_id or None,
                    tags=self.tags,
                    min_criticality=min_criticality,
                    responded=responded,
                    progress=progress,
                    language=language,
                    limit=PAGE_SIZE,
                    cursor=self.cursor or None,
                ),
                {},
            )
        except InvalidQuery as exc:
            return None, {exc.parameter: _invalid_message(exc)}


def _invalid_message(exc: InvalidQuery) -> str:
    if exc.parameter == "cursor":
        return N_("This page link is out of date or was changed; start the search again.")
    names = {
        "q": "Search words",
        "tag": "Tag",
        "organisation_id": "Organisation",
        "service_id": "Service",
    }
    return f"{names.get(exc.parameter, exc.parameter)} {exc.message}."


def _with_selected(facets: tuple[FacetCount, ...], selected: str) -> list[FacetCount]:
    """The facet values as options, keeping a selected value that matched nothing."""
    options = list(facets)
    if selected and all(f.value != selected for f in options):
        options.insert(0, FacetCount(value=selected, label=selected, count=0))
    return options


@pass_context
def _count(context: Context, n: int, *, estimate: bool = False) -> str:
    """`12,400`, or `about 12,400` for an estimate (in the page's language)."""
    if not estimate:
        return f"{n:,}"
    return i18n.translate_in(context, N_("about {count}")).format(count=f"{n:,}")


def _criticality_options(facets: tuple[FacetCount, ...]) -> list[tuple[str, str, int]]:
    """ "At least" choices (value, label, how many of the matching stories each would keep)."""
    counts = {int(f.value): f.count for f in facets}
    return [
        (str(level), label, sum(n for c, n in counts.items() if c >= level))
        for level, label in sorted(CRITICALITY_LABELS.items())
    ]


def _search_context(
    form: SearchForm, result: SearchPage | None, errors: Mapping[str, str]
) -> dict[str, Any]:
    context: dict[str, Any] = {"form": form, "errors": errors, "result": result}
    context["responded_choices"] = RESPONDED_CHOICES
    context["progress_choices"] = PROGRESS_CHOICES
    context["next_link"] = None
    context["first_link"] = None
    # The same filters as a feed: follow this search in a feed reader.
    context["feed_query"] = urlencode(form.link_params())
    if result is not None:
        context["organisations"] = _with_selected(result.facets.organisation, form.organisation_id)
        context["services"] = _with_selected(result.facets.service, form.service_id)
        first_tag = form.tags[0] if form.tags else ""
        context["tag_options"] = _with_selected(result.facets.tag, first_tag)
        context["criticality_options"] = _criticality_options(result.facets.criticality)
        if result.next_cursor is not None:
            params = [*form.link_params(), ("cursor", result.next_cursor)]
            context["next_link"] = "/search?" + urlencode(params)
        if form.cursor:
            context["first_link"] = "/search?" + urlencode(form.link_params())
    return context


# ---------------------------------------------------------------- routes


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    newest = await handlers.search(_uow(request), SearchStories(limit=NEWEST_ON_HOME))
    context = {"newest": newest, "form": SearchForm()}
    return await welsh_names.render_naming_organisations(request, "home.html", context)


@router.get("/search", response_class=HTMLResponse)
async def search(request: Request) -> HTMLResponse:
    form = SearchForm.from_params(request.query_params)
    query, errors = form.to_query()
    if query is None:
        context = _search_context(form, None, errors)
        return _render(request, "search.html", context, status_code=422)
    result = await handlers.search(_uow(request), query)
    context = _search_context(form, result, {})
    return await welsh_names.render_naming_organisations(request, "search.html", context)


@router.get("/stories/{story_id}", response_class=HTMLResponse)
async def story(request: Request, story_id: str) -> HTMLResponse:
    # Parsed here rather than by FastAPI so a bad link gets a page, not problem+json.
    try:
        parsed = uuid.UUID(story_id)
    except ValueError:
        parsed = None
    published = await handlers.get_story(_uow(request), parsed) if parsed else None
    if published is None:
        return _not_found(
            request,
            N_("Story not found"),
            N_(
                "There is no published story at this address. It may have been withdrawn by "
                "the person who shared it, or the link may be wrong."
            ),
        )
    return await welsh_names.render_naming_organisations(
        request, "story.html", {"story": published}
    )


def _median_text(stats: StoryStats) -> str:
    median = stats.median_hours_to_first_response
    if stats.median_is_estimate and median is not None:
        return Filled(N_("about {duration}"), duration=charts.hours_text(median))
    return charts.hours_text(median)


@dataclass(frozen=True, slots=True)
class MonthRow:
    value: str
    label: str
    stories: int
    responded_share: str
    median: str


def _organisation_charts(report: StatsReport) -> dict[str, Any]:
    by_month = {g.value: g for g in report.groups if g.value is not None}
    months = charts.filled_months(report.groups)
    rows: list[MonthRow] = []
    stories, shares, medians = [], [], []
    for month in months:
        group = by_month.get(month)
        count = group.stats.stories if group else 0
        share = group.stats.responded_share if group else None
        median = group.stats.median_hours_to_first_response if group else None
        first_day = date.fromisoformat(f"{month}-01")
        short, long = DateInWords(first_day, "MMM yy"), DateInWords(first_day, "MMMM y")
        stories.append(charts.ChartPoint(short, long, count, str(count)))
        shares.append(charts.ChartPoint(short, long, share, charts.share_text(share)))
        median_text = _median_text(group.stats) if group else charts.hours_text(None)
        medians.append(
            charts.ChartPoint(short, long, median, median_text, charts.compact_hours(median))
        )
        rows.append(MonthRow(month, long, count, charts.share_text(share), median_text))
    return {
        "months": rows,
        "stories_chart": charts.bar_chart(stories),
        "share_chart": charts.bar_chart(shares, scale_max=1.0),
        "median_chart": charts.bar_chart(medians),
    }


@router.get("/organisations", response_class=HTMLResponse)
async def organisations(request: Request) -> HTMLResponse:
    """Every organisation people can share stories about, with how many are published."""
    listed = await handlers.organisation_index(_uow(request))
    welsh = await welsh_names.page_welsh_names(request)
    # Listed in the order of the names the page shows.
    listed = sorted(listed, key=lambda o: (welsh.get(o.id, o.name).casefold(), o.id))
    return await welsh_names.render_naming_organisations(
        request, "organisations.html", {"organisations": listed}, welsh_names=welsh
    )


@router.get("/organisations/{organisation_id}", response_class=HTMLResponse)
async def organisation(request: Request, organisation_id: str) -> HTMLResponse:
    def missing() -> HTMLResponse:
        return _not_found(
            request,
            N_("Organisation not found"),
            N_("There is no organisation with this code. Find it in the list of organisations."),
        )

    if len(organisation_id) > MAX_CODE_CHARS:
        return missing()
    try:
        recent_query = SearchStories(organisation_id=organisation_id, limit=RECENT_ON_ORGANISATION)
        stats_query = StoryStatsQuery(organisation_id=organisation_id, group_by=StatsGrouping.MONTH)
    except InvalidQuery:
        return missing()
    uow = _uow(request)
    recent = await handlers.search(uow, recent_query)
    if not recent.hits:
        # In the directory but nothing published yet: its page, saying so.
        name = await handlers.directory_name(uow, organisation_id)
        if name is None:
            return missing()
        listed = {"organisation": {"id": organisation_id, "name": name}}
        return await welsh_names.render_naming_organisations(
            request, "organisation_empty.html", listed
        )
    report = await handlers.story_stats(uow, stats_query)
    overall = report.overall
    try:
        colour = MapColour(request.query_params.get("map", MapColour.CRITICALITY))
    except ValueError:
        colour = MapColour.CRITICALITY
    story_map = await handlers.organisation_story_map(
        uow, organisation_id, now=datetime.now(UTC), colour=colour
    )
    context = {
        "organisation": recent.hits[0].organisation,
        "recent": recent,
        "overall": overall,
        "responded_share": charts.share_text(overall.responded_share),
        "median": _median_text(overall),
        "services": recent.facets.service,
        "feed_query": urlencode([("organisation_id", recent.hits[0].organisation.id)]),
        **_organisation_charts(report),
        "story_map": story_map,
        "map_colours": MAP_COLOUR_LABELS,
    }
    return await welsh_names.render_naming_organisations(request, "organisation.html", context)
