"""Security headers on every response, and a Content-Security-Policy on every page.

Pages run no inline script (a script comes from this origin, or is hashed into
the policy by the route that serves it) and cannot be framed; no response is
sniffed into another type or leaks its URL as a referrer; over https a browser
is told to stay on https.
"""

from __future__ import annotations

import base64
import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
# JSON, redirects, static files: nothing in them may run or be framed.
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"


def script_hash(source: str) -> str:
    """The CSP source expression that allows exactly this inline script."""
    digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
    return f"'sha256-{digest}'"


class SecurityHeadersMiddleware:
    """Adds the headers a route has not set itself (a route may set a stricter or
    more specific Content-Security-Policy, e.g. with a script's hash)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = next(
                    (value for name, value in headers if name.lower() == b"content-type"), b""
                )
                html = content_type.lower().startswith(b"text/html")
                wanted = [
                    (b"content-security-policy", PAGE_POLICY if html else OTHER_POLICY),
                    (b"x-content-type-options", "nosniff"),
                    (b"referrer-policy", "no-referrer"),
                    (b"x-frame-options", "DENY"),
                ]
                if https:
                    wanted.append((b"strict-transport-security", HSTS))
                headers += [(name, value.encode()) for name, value in wanted if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
