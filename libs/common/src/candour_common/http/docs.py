"""`/docs` (Swagger UI) with a Content-Security-Policy of its own.

FastAPI's page starts Swagger UI with one inline script; rather than allow
inline scripts, the policy allows exactly that script by its hash, plus the
Swagger UI bundle it loads. Redoc is not served (its page needs inline styles).
"""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from candour_common.http.headers import script_hash

SWAGGER_CDN = "https://cdn.jsdelivr.net"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_router(title: str, openapi_url: str = "/openapi.json") -> APIRouter:
    page = get_swagger_ui_html(
        openapi_url=openapi_url, title=f"{title}: API", swagger_favicon_url=""
    )
    html = bytes(page.body).decode()
    hashes = " ".join(script_hash(s) for s in _INLINE_SCRIPT.findall(html))
    policy = (
        f"default-src 'self'; script-src 'self' {SWAGGER_CDN} {hashes}; "
        f"style-src 'self' {SWAGGER_CDN} 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    )
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        return HTMLResponse(html, headers={"Content-Security-Policy": policy})

    return router
