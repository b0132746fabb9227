"""Wires moderation's concrete adapters into an app."""

from __future__ import annotations

from fastapi import FastAPI

from candour_common.runtime import build_app
from candour_moderation.entrypoints import consumers
from candour_moderation.entrypoints.http import name_decision_fields, router
from candour_moderation.settings import ModerationSettings

MIGRATIONS = "candour_moderation.migrations"


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
    )
    name_decision_fields(app)
    return app
