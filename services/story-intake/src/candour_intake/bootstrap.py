"""Wires story-intake's concrete adapters into an app."""

from __future__ import annotations

from fastapi import FastAPI

from candour_common.runtime import build_app
from candour_intake.entrypoints.http import router
from candour_intake.settings import IntakeSettings

MIGRATIONS = "candour_intake.migrations"


def create_app(settings: IntakeSettings) -> FastAPI:
    return build_app(
        settings,
        title="Candour story-intake",
        description="Stories and staff responses enter Candour here; the organisation directory.",
        migrations_package=MIGRATIONS,
        routers=[router],
        relay_outbox=True,
    )
