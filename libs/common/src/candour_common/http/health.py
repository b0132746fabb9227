"""`/healthz` (alive) on the public port; `/readyz` and `/metrics` on the admin port.

What a service depends on and how busy it is are for operators and their
monitoring, not for the internet: the admin app is served on its own port
(CANDOUR_ADMIN_PORT) that is never published. `/healthz` says only "ok" and
stays on both, for load balancers and liveness probes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence

import structlog
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

log = structlog.get_logger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]


def liveness_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return router


def admin_router(
    checks: Mapping[str, ReadinessCheck],
    *,
    registries: Sequence[CollectorRegistry] = (REGISTRY,),
    before_scrape: Callable[[], Awaitable[None]] | None = None,
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    router.include_router(liveness_router())

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=3)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"unavailable: {type(exc).__name__}"
        ready = all(v == "ok" for v in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": results},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics")
    async def metrics() -> Response:
        if before_scrape is not None:
            try:
                await asyncio.wait_for(before_scrape(), timeout=3)
            except Exception as exc:  # a scrape still answers with what it has
                log.warning("metrics refresh failed", error=repr(exc))
        body = b"".join(generate_latest(r) for r in registries)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
