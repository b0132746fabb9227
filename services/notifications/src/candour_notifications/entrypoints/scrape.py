"""Refresh gauges that are counted in the database just before `/metrics` answers.

The platform's `/metrics` route belongs to libs/common and has no hook for a
service's own gauges, so this middleware runs the service's refresh first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

log = structlog.get_logger(__name__)


class RefreshBeforeScrape:
    def __init__(
        self, app: ASGIApp, *, refresh: Callable[[], Awaitable[None]], timeout: float = 3.0
    ) -> None:
        self.app = app
        self.refresh = refresh
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/metrics":
            try:
                await asyncio.wait_for(self.refresh(), timeout=self.timeout)
            except Exception as exc:  # a scrape still answers with what it has
                log.warning("delivery metrics refresh failed", error=repr(exc))
        await self.app(scope, receive, send)
