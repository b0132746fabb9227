"""Pure ASGI middleware: one correlation id per request, in logs and in the response."""

from __future__ import annotations

import re

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from candour_common.logging import new_correlation_id

HEADER = "x-correlation-id"
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


class CorrelationIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k.decode("latin-1") == HEADER),
            None,
        )
        # Accept the caller's id only if it is harmless to log and echo.
        cid = incoming if incoming and _SAFE.match(incoming) else new_correlation_id()

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((HEADER.encode(), cid.encode()))
            await send(message)

        with structlog.contextvars.bound_contextvars(correlation_id=cid):
            await self.app(scope, receive, send_with_header)
