"""Wires moderation's concrete adapters into an app."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from fastapi import FastAPI

from candour_common.runtime import Platform, admin_app, build_app
from candour_common.web import pages
from candour_moderation.adapters.metrics import ModerationMetrics, moderation_metrics
from candour_moderation.adapters.screening import ScreeningPool
from candour_moderation.domain.model import QueueItem
from candour_moderation.entrypoints import consumers
from candour_moderation.entrypoints.http import name_decision_fields, router
from candour_moderation.entrypoints.metrics import QueueDepthOnScrape
from candour_moderation.entrypoints.pages import create_console_templates
from candour_moderation.entrypoints.pages import router as console_router
from candour_moderation.service_layer.unit_of_work import PostgresModerationUnitOfWork
from candour_moderation.settings import ModerationSettings
from candour_screening import SafeguardingLevel, screener_version

MIGRATIONS = "candour_moderation.migrations"


class PlatformMetrics:
    """Moderation's metrics on the registry of the app's platform, which exists once the
    app starts (before its consumer does); the subscriptions are given these before the
    app itself exists."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    def _metrics(self) -> ModerationMetrics:
        assert self.app is not None, "wired to its app by create_app"
        return moderation_metrics(self.app.state.platform.metrics.registry)

    def observe_decision(self, item: QueueItem, automatic: bool) -> None:
        self._metrics().observe_decision(item, automatic)

    def set_queue_depth(self, depth: Mapping[SafeguardingLevel, int]) -> None:
        self._metrics().set_queue_depth(depth)

    def observe_screenings(self, screened_by: str, count: int) -> None:
        self._metrics().observe_screenings(screened_by, count)


def create_app(settings: ModerationSettings) -> FastAPI:
    screening = ScreeningPool(settings.screening_workers)
    metrics = PlatformMetrics()

    def on_started(platform: Platform) -> Sequence[asyncio.Task[None]]:
        # Made now so the first scrape already shows them (at zero).
        moderation_metrics(platform.metrics.registry)
        # The consumer may already have started it (its first story), or not yet.
        screening.start()
        return (asyncio.create_task(screening.run_until_cancelled(), name="screening"),)

    app = build_app(
        settings,
        title="Candour moderation",
        description=(
            "Every story is screened and read by a moderator before anyone else sees it: "
            "a prioritised queue, suggested redactions, decisions and an audit trail."
        ),
        migrations_package=MIGRATIONS,
        service=consumers.SERVICE,
        unit_of_work=PostgresModerationUnitOfWork,
        routers=[router, console_router],
        subscriptions=consumers.subscriptions(
            settings,
            screen=screening.screen,
            observe=metrics.observe_decision,
            # The workers run the screener installed here: its version, without spaCy.
            screener=screener_version(),
            observe_screenings=metrics.observe_screenings,
        ),
        relay_outbox=True,
        on_started=on_started,
    )
    metrics.app = app
    app.state.queue_metrics = metrics
    name_decision_fields(app)
    # The console's pages: outside /v1 and left out of the OpenAPI document.
    app.state.console_templates = create_console_templates(settings)
    pages.mount_static(app)
    admin_app(app).add_middleware(QueueDepthOnScrape, owner=app)
    return app
