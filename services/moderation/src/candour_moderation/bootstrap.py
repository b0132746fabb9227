"""Wires moderation's concrete adapters into an app."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from candour_common.runtime import Platform, PlatformRef, admin_app, build_app
from candour_common.settings import ServiceSettings
from candour_common.web import pages
from candour_moderation.adapters.metrics import moderation_metrics
from candour_moderation.adapters.screening import ScreeningPool
from candour_moderation.entrypoints import consumers
from candour_moderation.entrypoints.http import name_decision_fields, router
from candour_moderation.entrypoints.metrics import QueueDepthOnScrape
from candour_moderation.entrypoints.pages import create_console_templates
from candour_moderation.entrypoints.pages import router as console_router
from candour_moderation.settings import ModerationSettings

MIGRATIONS = "candour_moderation.migrations"


def create_app(settings: ModerationSettings) -> FastAPI:
    screening = ScreeningPool(settings.screening_workers)

    def register(broker: KafkaBroker, service: ServiceSettings, ref: PlatformRef) -> None:
        consumers.register(broker, service, ref, screening=screening)

    def on_started(platform: Platform) -> Sequence[asyncio.Task[None]]:
        # Made now so the first scrape already shows them (at zero).
        moderation_metrics(platform.metrics.registry)
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
        routers=[router, console_router],
        register_subscribers=register,
        relay_outbox=True,
        on_started=on_started,
    )
    name_decision_fields(app)
    # The console's pages: outside /v1 and left out of the OpenAPI document.
    app.state.console_templates = create_console_templates(settings)
    pages.mount_static(app)
    admin_app(app).add_middleware(QueueDepthOnScrape, owner=app)
    return app
