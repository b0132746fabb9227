"""Queue depth computed when Prometheus scrapes `/metrics`, from the database.

Counting at scrape (rather than in each process as stories come and go) keeps
the number right however many copies of moderation run and whichever of them
handled the change.
"""

from __future__ import annotations

import asyncio

import structlog
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from candour_moderation.entrypoints.dependencies import new_unit_of_work, queue_metrics
from candour_moderation.service_layer import handlers

log = structlog.get_logger(__name__)

SCRAPE_PATH = "/metrics"
_REFRESH_TIMEOUT = 3.0


class QueueDepthOnScrape:
    """ASGI middleware: refresh the queue-depth gauge just before `/metrics` answers."""

    def __init__(self, app: ASGIApp, *, owner: FastAPI) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == SCRAPE_PATH and scope["method"] == "GET":
            try:
                await asyncio.wait_for(self._refresh(), timeout=_REFRESH_TIMEOUT)
            except Exception as exc:  # the scrape still answers, with the last known depth
                log.warning("queue depth refresh failed", error=repr(exc))
        await self.app(scope, receive, send)

    async def _refresh(self) -> None:
        depth = await handlers.queue_depth(new_unit_of_work(self.owner))
        queue_metrics(self.owner).set_queue_depth(depth)
