"""Wires search's concrete adapters into an app."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta

from fastapi import FastAPI

from candour_common.runtime import Platform, build_app
from candour_common.web import pages as web_pages
from candour_search.adapters.theme_finder import finder_in_worker
from candour_search.entrypoints import (
    consumers,
    feeds_http,
    insight_pages,
    pages,
    rates_http,
    rates_pages,
    themes_http,
    upkeep,
    voices_http,
)
from candour_search.entrypoints.http import router
from candour_search.entrypoints.insight_http import router as insight_router
from candour_search.population import load_population
from candour_search.service_layer.themes import keep_themes_fresh
from candour_search.service_layer.unit_of_work import (
    PostgresSearchUnitOfWork,
    SearchUnitOfWork,
)
from candour_search.settings import SearchSettings

MIGRATIONS = "candour_search.migrations"


def create_app(settings: SearchSettings) -> FastAPI:
    def start_background(platform: Platform) -> Sequence[asyncio.Task[None]]:
        new_uow = _search_unit_of_work(platform)
        tasks = upkeep.start(new_uow)
        if not settings.insight_themes_every_hours:
            return tasks
        themes = keep_themes_fresh(
            new_uow,
            finder_in_worker(seed=settings.insight_themes_seed),
            every=timedelta(hours=settings.insight_themes_every_hours),
        )
        return [*tasks, asyncio.create_task(themes, name="insight-themes")]

    app = build_app(
        settings,
        title="Candour search",
        description=(
            "The public read side of Candour: full-text search over published stories with "
            "filters and facets, and published story pages with their responses."
        ),
        migrations_package=MIGRATIONS,
        service=consumers.SERVICE,
        unit_of_work=PostgresSearchUnitOfWork,
        routers=[
            router,
            feeds_http.router,
            rates_http.router,
            insight_router,
            themes_http.router,
            voices_http.router,
            pages.router,
            insight_pages.router,
            rates_pages.router,
        ],
        subscriptions=consumers.subscriptions(settings),
        on_started=start_background,
    )
    app.state.population = load_population(settings.population_file)
    app.state.templates = pages.create_templates(settings)
    web_pages.mount_static(app)
    return app


def _search_unit_of_work(platform: Platform) -> Callable[[], SearchUnitOfWork]:
    """The platform's unit-of-work factory, which makes search's (wired above)."""

    def new() -> SearchUnitOfWork:
        uow = platform.unit_of_work()
        assert isinstance(uow, SearchUnitOfWork)
        return uow

    return new
