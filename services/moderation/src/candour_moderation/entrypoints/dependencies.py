"""What the entrypoints reach through the app, as bootstrap wired it: a fresh unit of
work per use, moderation's metrics, the claim lease."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI, Request

from candour_moderation.domain.model import DEFAULT_LEASE
from candour_moderation.service_layer.handlers import QueueMetrics
from candour_moderation.service_layer.unit_of_work import ModerationUnitOfWork


def new_unit_of_work(app: FastAPI) -> ModerationUnitOfWork:
    """A fresh unit of work of the started app (bootstrap gave build_app moderation's)."""
    uow = app.state.platform.unit_of_work()
    if not isinstance(uow, ModerationUnitOfWork):
        raise TypeError(f"moderation needs its own unit of work, not {type(uow).__name__}")
    return uow


def queue_metrics(app: FastAPI) -> QueueMetrics:
    metrics: QueueMetrics = app.state.queue_metrics
    return metrics


def get_unit_of_work(request: Request) -> ModerationUnitOfWork:
    """FastAPI dependency: a fresh unit of work for this request."""
    return new_unit_of_work(request.app)


def get_metrics(request: Request) -> QueueMetrics:
    return queue_metrics(request.app)


def get_lease(request: Request) -> timedelta:
    seconds = getattr(request.app.state.platform.settings, "claim_lease_seconds", None)
    return timedelta(seconds=seconds) if isinstance(seconds, int) else DEFAULT_LEASE
