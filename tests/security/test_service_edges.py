"""What every service answers at its edge, with the four services as real processes.

- `/readyz` and `/metrics` are served only on the admin port (CANDOUR_ADMIN_PORT);
  the public port keeps `/healthz` and nothing else of the kind.
- A body over the limit gets 413 problem+json before authentication and before any
  parsing, whether its size is declared (Content-Length) or streamed (chunked).
- Every HTML page carries a Content-Security-Policy with no inline script (unless
  hashed) and `frame-ancestors 'none'`, and every response `nosniff` and
  `no-referrer`; HSTS only when the request came over https (here: said by the
  trusted proxy), never over plain http or when an untrusted peer claims https.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from candour_common.auth import Role
from tests.faults.platform import SERVICES, Platform, bearer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LIMIT = 64 * 1024  # the default CANDOUR_MAX_REQUEST_BYTES
# A POST route of each service, and what it answers a small body without a token.
GUARDED_POST = {
    "story-intake": ("/v1/stories/00000000-0000-0000-0000-000000000000/responses", 401),
    "moderation": ("/v1/queue/00000000-0000-0000-0000-000000000000/decision", 401),
    "notifications": ("/v1/subscriptions", 401),
    "search": ("/v1/search", 405),  # no POST at all: the limit still comes first
}
PAGES = {
    "story-intake": ["/share", "/follow", "/respond/sign-in", "/docs"],
    "moderation": ["/console/sign-in", "/docs"],
    "notifications": ["/alerts/sign-in", "/docs"],
    "search": ["/", "/search", "/search?q=care", "/who-listens", "/docs"],
}
JSON_ROUTES = {
    "story-intake": "/v1/organisations",
    "moderation": "/v1/queue",
    "notifications": "/v1/subscriptions",
    "search": "/v1/search",
}


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


async def _chunks(size: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        piece = min(8192, size - sent)
        sent += piece
        yield b"{" + b"x" * (piece - 1)


async def test_readiness_and_metrics_are_only_on_the_admin_port(four_services: Platform) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for name in SERVICES:
            process = four_services.one(name)
            assert process.admin_port != process.port
            for path in ("/readyz", "/metrics"):
                public = await http.get(f"{process.url}{path}")
                assert public.status_code == 404, f"{name} serves {path} publicly"
            assert (await http.get(f"{process.url}/healthz")).json() == {"status": "ok"}

            ready = await http.get(f"{process.admin_url}/readyz")
            assert ready.status_code == 200, (name, ready.text)
            # Intake is ready once its safeguarding screener is built, too.
            own = {"screening"} if name == "story-intake" else set()
            assert set(ready.json()["checks"]) == {"postgres", "kafka", "migrations", *own}
            scrape = await http.get(f"{process.admin_url}/metrics")
            assert scrape.status_code == 200
            assert "candour_http_requests_total" in scrape.text or name == "search", name
            assert (await http.get(f"{process.admin_url}/healthz")).status_code == 200
            # The admin app is not a second door to the public API.
            assert (await http.get(f"{process.admin_url}{JSON_ROUTES[name]}")).status_code == 404
        # Gauges each service refreshes when scraped still reach the admin scrape.
        moderation = await http.get(f"{four_services.one('moderation').admin_url}/metrics")
        assert "candour_moderation_queue_depth" in moderation.text
        notifications = await http.get(f"{four_services.one('notifications').admin_url}/metrics")
        assert "candour_notifications_deliveries" in notifications.text


@pytest.mark.parametrize("name", SERVICES)
async def test_a_body_over_the_limit_is_refused_before_authentication(
    four_services: Platform, name: str
) -> None:
    path, unauthenticated = GUARDED_POST[name]
    url = f"{four_services.one(name).url}{path}"
    async with httpx.AsyncClient(timeout=30) as http:
        small = await http.post(url, content=b"{}", headers={"content-type": "application/json"})
        assert small.status_code == unauthenticated, small.text

        declared = await http.post(
            url, content=b"{" + b"x" * LIMIT, headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413, (name, declared.status_code, declared.text[:300])
        assert declared.headers["content-type"].startswith("application/problem+json")
        assert declared.json()["status"] == 413

        streamed = await http.post(
            url, content=_chunks(LIMIT + 1), headers={"content-type": "application/json"}
        )
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413, (name, streamed.status_code, streamed.text[:300])

        # With a valid token too: the size is judged before anything else.
        token = bearer(Role.OPERATOR if name == "notifications" else Role.MODERATOR)
        with_token = await http.post(
            url, content=b"{" + b"x" * LIMIT, headers={**token, "content-type": "application/json"}
        )
        assert with_token.status_code == 413


def _assert_page_policy(name: str, path: str, answer: httpx.Response) -> None:
    assert answer.status_code == 200, (name, path, answer.status_code)
    assert answer.headers["content-type"].startswith("text/html")
    policy = directives(answer.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"], (name, path)
    scripts = policy.get("script-src", policy.get("default-src"))
    assert scripts is not None
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, (name, path)
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    # Every inline script on the page is allowed by its hash; no other may run.
    for inline in re.findall(r"<script>(.*?)</script>", answer.text, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in scripts, (name, path, "inline script without its hash")
    if path != "/docs":
        assert "<script>" not in answer.text
        assert policy["style-src"] == ["'self'"]
        assert " style=" not in answer.text, (name, path, "inline style the policy would block")


async def test_every_page_carries_the_security_headers(four_services: Platform) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for name, paths in PAGES.items():
            base = four_services.one(name).url
            for path in paths:
                answer = await http.get(f"{base}{path}")
                _assert_page_policy(name, path, answer)
                assert "strict-transport-security" not in answer.headers  # plain http
            api = await http.get(f"{base}{JSON_ROUTES[name]}")
            assert api.headers["x-content-type-options"] == "nosniff"
            assert directives(api.headers["content-security-policy"])["frame-ancestors"] == [
                "'none'"
            ]
            static = await http.get(f"{base}/static/candour.css")
            assert static.status_code == 200
            assert static.headers["x-content-type-options"] == "nosniff"


async def test_hsts_only_over_https_as_the_trusted_proxy_says(four_services: Platform) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for name, paths in PAGES.items():
            url = f"{four_services.one(name).url}{paths[0]}"
            over_https = await http.get(url, headers={"X-Forwarded-Proto": "https"})
            assert over_https.headers["strict-transport-security"].startswith("max-age="), name
            assert int(over_https.headers["strict-transport-security"].split("=")[1]) >= 15552000
            plain = await http.get(url)
            assert "strict-transport-security" not in plain.headers, name
