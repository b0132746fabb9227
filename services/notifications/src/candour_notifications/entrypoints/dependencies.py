"""What the entrypoints reach through the app, as bootstrap wired it: a fresh unit of
work per request."""

from __future__ import annotations

from fastapi import FastAPI, Request

from candour_notifications.service_layer.unit_of_work import NotificationsUnitOfWork


def new_unit_of_work(app: FastAPI) -> NotificationsUnitOfWork:
    """A fresh unit of work of the started app (bootstrap gave build_app notifications')."""
    uow = app.state.platform.unit_of_work()
    if not isinstance(uow, NotificationsUnitOfWork):
        raise TypeError(f"notifications needs its own unit of work, not {type(uow).__name__}")
    return uow


def get_unit_of_work(request: Request) -> NotificationsUnitOfWork:
    """FastAPI dependency: a fresh unit of work for this request."""
    return new_unit_of_work(request.app)
