"""What the entrypoints reach through the app, as bootstrap wired it: a fresh unit of
work per use."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from candour_search.service_layer.unit_of_work import SearchUnitOfWork


def new_unit_of_work(app: FastAPI) -> SearchUnitOfWork:
    """A fresh unit of work of the started app (bootstrap gave build_app search's)."""
    uow = app.state.platform.unit_of_work()
    if not isinstance(uow, SearchUnitOfWork):
        raise TypeError(f"search needs its own unit of work, not {type(uow).__name__}")
    return uow


def get_unit_of_work(request: Request) -> SearchUnitOfWork:
    """FastAPI dependency: a fresh unit of work for this request."""
    return new_unit_of_work(request.app)


Uow = Annotated[SearchUnitOfWork, Depends(get_unit_of_work)]
