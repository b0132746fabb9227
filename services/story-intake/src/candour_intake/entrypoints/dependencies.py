"""What the entrypoints reach through the app, as bootstrap wired it: a fresh unit of
work per use, the safeguarding check, the submission rate limit, the settings."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI, Request

from candour_intake.service_layer.ports import SafeguardingCheck, SubmissionLimit
from candour_intake.service_layer.unit_of_work import IntakeUnitOfWork
from candour_intake.settings import IntakeSettings


def new_unit_of_work(app: FastAPI) -> IntakeUnitOfWork:
    """A fresh unit of work of the started app (bootstrap gave build_app intake's)."""
    uow = app.state.platform.unit_of_work()
    if not isinstance(uow, IntakeUnitOfWork):
        raise TypeError(f"story-intake needs its own unit of work, not {type(uow).__name__}")
    return uow


def get_unit_of_work(request: Request) -> IntakeUnitOfWork:
    """FastAPI dependency: a fresh unit of work for this request."""
    return new_unit_of_work(request.app)


def settings(request: Request) -> IntakeSettings:
    configured: IntakeSettings = request.app.state.platform.settings
    return configured


def safeguarding(request: Request) -> SafeguardingCheck:
    check: SafeguardingCheck = request.app.state.safeguarding
    return check


def submission_limit(request: Request) -> SubmissionLimit:
    limit: SubmissionLimit = request.app.state.submission_limit
    return limit


def idempotency_ttl(request: Request) -> timedelta:
    return timedelta(hours=settings(request).idempotency_key_hours)


def edit_window(request: Request) -> timedelta:
    return settings(request).response_edit_window
