"""Wires search's concrete adapters into an app."""

from __future__ import annotations

from fastapi import FastAPI

from candour_common.runtime import build_app
from candour_common.web import pages as web_pages
from candour_search.entrypoints import consumers, pages
from candour_search.entrypoints.http import router
from candour_search.entrypoints.insight_http import router as insight_router
from candour_search.settings import SearchSettings

MIGRATIONS = "candour_search.migrations"


def create_app(settings: SearchSettings) -> FastAPI:
    app = build_app(
        settings,
        title="Candour search",
        description=(
            "The public read side of Candour: full-text search over published stories with "
            "filters and facets, and published story pages with their responses."
        ),
        migrations_package=MIGRATIONS,
        routers=[router, insight_router, pages.router],
        register_subscribers=consumers.register,
    )
    app.state.templates = pages.create_templates(settings)
    web_pages.mount_static(app)
    return app
