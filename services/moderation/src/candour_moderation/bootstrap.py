"""Wires moderation's concrete adapters into an app."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fastapi import FastAPI

from candour_common.runtime import Platform, build_app
from candour_moderation.adapters.metrics import moderation_metrics
from candour_moderation.entrypoints import consumers
from candour_moderation.entrypoints.http import name_decision_fields, router
from candour_moderation.entrypoints.metrics import QueueDepthOnScrape
from candour_moderation.settings import ModerationSettings

MIGRATIONS = "candour_moderation.migrations"


def on_started(platform: Platform) -> Sequence[asyncio.Task[None]]:
    # Made now so the first scrape already shows them (at zero).
    moderation_metrics(platform.metrics.registry)
    return ()


def create_app(settings: ModerationSettings) -> FastAPI:
    app = build_app(
        settings,
        title="Candour moderation",
        description=(
            "Every story is screened and read by a moderator before anyone else sees it: "
            "a prioritised queue, suggested redactions, decisions and an audit trail."
        ),
        migrations_package=MIGRATIONS,
        routers=[router],
        register_subscribers=consumers.register,
        relay_outbox=True,
        on_started=on_started,
    )
    name_decision_fields(app)
    app.add_middleware(QueueDepthOnScrape, owner=app)
    return app
