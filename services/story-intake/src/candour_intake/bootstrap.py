"""Wires story-intake's concrete adapters into an app."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
from fastapi import FastAPI

from candour_common.db.retention import RetentionRule
from candour_common.db.uow import UnitOfWorkFactory
from candour_common.http.limits import RateLimiter
from candour_common.runtime import Platform, build_app
from candour_common.settings import ServiceSettings
from candour_common.signing_keys import derive_key
from candour_common.web import pages as web_pages
from candour_intake.adapters.screening import ScreeningSafeguardingCheck
from candour_intake.entrypoints import check_pages, consumers, edit_pages, pages
from candour_intake.entrypoints.http import router
from candour_intake.service_layer.unit_of_work import IntakeUnitOfWork, PostgresIntakeUnitOfWork
from candour_intake.service_layer.voices import keep_voices_published
from candour_intake.settings import IntakeSettings

MIGRATIONS = "candour_intake.migrations"


def retention_rules(settings: ServiceSettings) -> list[RetentionRule]:
    """Beyond the outbox and inbox: Idempotency-Keys, once they stop replaying."""
    hours = settings.idempotency_key_hours if isinstance(settings, IntakeSettings) else 24.0
    return [RetentionRule("idempotency_keys", "created_at", timedelta(hours=hours))]


def units_of_work(pool: asyncpg.Pool) -> UnitOfWorkFactory[PostgresIntakeUnitOfWork]:
    """Units of work on intake's database outside the app (the operator's commands)."""
    return UnitOfWorkFactory(pool, PostgresIntakeUnitOfWork, consumers.SERVICE)


def _intake_uow(platform: Platform) -> IntakeUnitOfWork:
    uow = platform.unit_of_work()
    assert isinstance(uow, IntakeUnitOfWork)
    return uow


class SubmissionLimit:
    """The submission rate limit on the started app's database (service_layer/ports.py)."""

    def __init__(self, app: FastAPI, limiter: RateLimiter) -> None:
        self._app = app
        self._limiter = limiter

    async def wait(self, client: str) -> float | None:
        platform: Platform = self._app.state.platform
        return await self._limiter.check(platform.pool, client)


def create_app(settings: IntakeSettings) -> FastAPI:
    safeguarding = ScreeningSafeguardingCheck()

    def on_started(platform: Platform) -> list[asyncio.Task[None]]:
        safeguarding.warm()  # build the screener now, not for the first story
        every = settings.voices_summary_every
        if every is None:
            return []
        voices = keep_voices_published(lambda: _intake_uow(platform), every)
        return [asyncio.create_task(voices, name="voices-summaries")]

    app = build_app(
        settings,
        title="Candour story-intake",
        description="Stories and staff responses enter Candour here; the organisation directory.",
        migrations_package=MIGRATIONS,
        routers=[router, pages.router, check_pages.router, edit_pages.router],
        service=consumers.SERVICE,
        unit_of_work=PostgresIntakeUnitOfWork,
        subscriptions=consumers.subscriptions(settings),
        relay_outbox=True,
        retention_rules=retention_rules,
        on_started=on_started,
        readiness_checks={"screening": safeguarding.ready},
    )
    app.state.safeguarding = safeguarding
    # One limiter for the API and the share page: a client cannot dodge it by switching.
    # Counted in the database, so every copy of intake shares it.
    limiter = RateLimiter(
        "story-submissions",
        settings.submission_rate_limit,
        settings.submission_rate_window,
        key=derive_key(settings.jwt_key(), "rate-limit-clients"),
    )
    app.state.submission_limit = SubmissionLimit(app, limiter)
    app.state.templates = pages.create_templates(settings)
    web_pages.mount_static(app)
    return app
