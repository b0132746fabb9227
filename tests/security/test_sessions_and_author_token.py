"""Signed-in pages and the author's private code, with the four services as real processes
in production mode (CANDOUR_ENV unset).

- Every cookie is Secure (and the session's HttpOnly, SameSite=Strict).
- A page session lasts at most 12 hours, even for a token valid for 30 days, and
  ends on the server: after sign-out, or once its time is up, a kept copy of the
  cookie opens nothing.
- Rotating the JWT key ends every session opened under the old one.
- The author's private code never travels in a URL: not in a link or form action of
  any page, and a code in a query string is not accepted.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from http.cookies import SimpleCookie

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from candour_common.auth import Role, issue_token
from candour_common.topics import TopicNames
from candour_moderation.bootstrap import create_app as create_moderation_app
from candour_moderation.settings import ModerationSettings
from tests.faults.platform import CLEAN_BODY, SECRET, TRUST, Platform
from tests.infra import serving

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TWELVE_HOURS = 12 * 3600


@dataclass(frozen=True)
class SignInPages:
    service: str
    sign_in: str
    home: str
    sign_out: str
    role: Role


PAGES = [
    SignInPages("story-intake", "/respond/sign-in", "/respond", "/respond/sign-out", Role.STAFF),
    SignInPages("moderation", "/console/sign-in", "/console", "/console/sign-out", Role.MODERATOR),
    SignInPages("notifications", "/alerts/sign-in", "/alerts", "/alerts/sign-out", Role.STAFF),
]


def set_cookies(answer: httpx.Response) -> dict[str, dict[str, str]]:
    """Each cookie the answer sets, with its attributes (lower-case names, "" if a flag)."""
    found: dict[str, dict[str, str]] = {}
    for header in answer.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            attributes = {k: str(v) for k, v in morsel.items() if v not in ("", False)}
            flags = {f.strip().lower() for f in header.split(";")[1:]}
            attributes |= {f: "" for f in ("secure", "httponly") if f in flags}
            found[name] = {"value": morsel.value, **attributes}
    return found


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


class Browser:
    """A client that keeps cookies by hand: the services set them Secure, and this test
    talks plain http to 127.0.0.1, where a cookie jar would (rightly) not send them."""

    def __init__(self, http: httpx.AsyncClient, base: str) -> None:
        self.http, self.base, self.cookies = http, base, {}  # type: ignore[var-annotated]

    def _header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def _keep(self, answer: httpx.Response) -> None:
        for name, attributes in set_cookies(answer).items():
            if attributes.get("max-age") == "0" or not attributes["value"]:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = attributes["value"]

    async def get(self, path: str) -> httpx.Response:
        answer = await self.http.get(f"{self.base}{path}", headers=self._header())
        self._keep(answer)
        return answer

    async def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        answer = await self.http.post(f"{self.base}{path}", data=data, headers=self._header())
        self._keep(answer)
        return answer


def token_for(pages: SignInPages, subject: str) -> str:
    return issue_token(
        SECRET,
        role=pages.role,
        subject=subject,
        organisation_id=TRUST.id if pages.role is Role.STAFF else None,
        ttl=timedelta(days=30),  # longer than a page session may last
    )


async def sign_in(browser: Browser, pages: SignInPages, token: str) -> httpx.Response:
    form = await browser.get(pages.sign_in)
    csrf_cookie = set_cookies(form)["candour_csrf"]
    assert "secure" in csrf_cookie and "httponly" in csrf_cookie, csrf_cookie
    return await browser.post(pages.sign_in, {"token": token, "csrf_token": csrf_of(form.text)})


@pytest.mark.parametrize("pages", PAGES, ids=[p.service for p in PAGES])
async def test_sign_out_ends_the_session_on_the_server(
    four_services: Platform, pages: SignInPages
) -> None:
    subject = f"person-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as http:
        browser = Browser(http, four_services.one(pages.service).url)
        signed = await sign_in(browser, pages, token_for(pages, subject))
        assert signed.status_code == 303, signed.text
        cookies = set_cookies(signed)
        assert len(cookies) == 1, cookies
        ((name, session),) = cookies.items()
        assert {"secure", "httponly"} <= set(session), session
        assert session["samesite"].lower() == "strict"
        assert 0 < int(session["max-age"]) <= TWELVE_HOURS, session
        assert session["value"] not in token_for(pages, subject)  # an id, not the token

        home = await browser.get(pages.home)
        assert home.status_code == 200 and subject in home.text
        kept = dict(browser.cookies)

        out = await browser.post(pages.sign_out, {"csrf_token": csrf_of(home.text)})
        assert out.status_code == 303
        assert name not in browser.cookies

        # Someone who kept a copy of the cookie gets nothing from it now.
        replay = await http.get(
            f"{browser.base}{pages.home}",
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in kept.items())},
        )
        assert replay.status_code == 303, "the session outlived sign-out"
        assert "sign-in" in replay.headers["location"]


@pytest.mark.parametrize("pages", PAGES, ids=[p.service for p in PAGES])
async def test_a_session_ends_within_twelve_hours_on_the_server(
    four_services: Platform, pages: SignInPages
) -> None:
    subject = f"person-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as http:
        browser = Browser(http, four_services.one(pages.service).url)
        assert (await sign_in(browser, pages, token_for(pages, subject))).status_code == 303
        assert (await browser.get(pages.home)).status_code == 200

        conn = await asyncpg.connect(four_services.databases[pages.service])
        try:
            row = await conn.fetchrow(
                "SELECT created_at, expires_at FROM web_sessions WHERE subject = $1", subject
            )
            assert row is not None, "no server-side session"
            assert row["expires_at"] - row["created_at"] <= timedelta(hours=12)
            # Twelve hours pass (for this session).
            await conn.execute(
                "UPDATE web_sessions SET expires_at = $2 WHERE subject = $1",
                subject,
                datetime.now(UTC) - timedelta(seconds=1),
            )
        finally:
            await conn.close()
        expired = await browser.get(pages.home)
        assert expired.status_code == 303 and "sign-in" in expired.headers["location"]


class LinksAndForms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.forms: list[dict[str, str]] = []
        self.inputs: list[tuple[int, dict[str, str]]] = []  # (form index, attributes)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        for key in ("href", "src", "action", "formaction", "content"):
            if key in values:
                self.urls.append(values[key])
        if tag == "form":
            self.forms.append(values)
        if tag in ("input", "button"):
            self.inputs.append((len(self.forms) - 1, values))


def _code_travels_only_in_post_bodies(html: str, code: str) -> None:
    page = LinksAndForms()
    page.feed(html)
    assert not [u for u in page.urls if code in u], "the private code is in a URL"
    for form_index, attributes in page.inputs:
        if attributes.get("value") == code and form_index >= 0:
            form = page.forms[form_index]
            assert form.get("method", "get").lower() == "post", form


async def test_the_private_code_never_travels_in_a_url(four_services: Platform) -> None:
    intake = four_services.one("story-intake")
    async with httpx.AsyncClient(timeout=30, follow_redirects=False) as http:
        browser = Browser(http, intake.url)
        form = await browser.get("/share")
        key = re.search(r'name="submission_key" value="([^"]+)"', form.text)
        assert key, "the share form carries its own submission key"
        sent = await browser.post(
            "/share",
            {
                "csrf_token": csrf_of(form.text),
                "submission_key": key.group(1),
                "place": f"{TRUST.id}|TAD-CMHT",
                "title": f"Story {four_services.run_tag} private code",
                # A detail a moderator must look at: never approved automatically, so
                # the story can still be edited below.
                "body": f"{CLEAN_BODY} Dr Patel was lovely.",
                "display_name": "Sam",
                "relationship": "patient",
            },
        )
        # Post/redirect/get: the confirmation is fetched by a plain GET whose URL holds
        # nothing of the story (a cookie scoped to /share says which).
        assert sent.status_code == 303, sent.text[:500]
        location = sent.headers["location"]
        assert location.endswith("/share/sent")
        done = await browser.get(location.removeprefix(intake.url))
        assert done.status_code == 200, done.text[:500]
        assert done.headers["cache-control"] == "no-store"
        story = re.search(r'id="story-reference" readonly value="([^"]+)"', done.text)
        code = re.search(r'id="private-code" readonly value="([^"]+)"', done.text)
        assert story and code
        story_id, private_code = story.group(1), code.group(1)
        _code_travels_only_in_post_bodies(done.text, private_code)

        csrf = csrf_of(done.text)
        status = await browser.post(
            "/follow", {"story": story_id, "token": private_code, "csrf_token": csrf}
        )
        assert status.status_code == 200 and 'data-status="submitted"' in status.text
        _code_travels_only_in_post_bodies(status.text, private_code)

        # Edit and send again: the form, its check and the page after sending.
        edit = await browser.post(
            "/follow/edit", {"story": story_id, "token": private_code, "csrf_token": csrf}
        )
        assert edit.status_code == 200 and "Edit your story" in edit.text
        _code_travels_only_in_post_bodies(edit.text, private_code)
        changed = {
            "story": story_id,
            "token": private_code,
            "csrf_token": csrf,
            "place": TRUST.id,
            "title": f"Story {four_services.run_tag} edited",
            "body": CLEAN_BODY,
        }
        checked = await browser.post("/follow/edit/check", changed)
        assert checked.status_code == 200 and "Check your story" in checked.text
        _code_travels_only_in_post_bodies(checked.text, private_code)
        sent_again = await browser.post("/follow/edit/send", changed)
        assert sent_again.status_code == 200 and 'id="sent-again"' in sent_again.text
        assert "location" not in sent_again.headers
        _code_travels_only_in_post_bodies(sent_again.text, private_code)

        confirm = await browser.post(
            "/follow/withdraw", {"story": story_id, "token": private_code, "csrf_token": csrf}
        )
        assert confirm.status_code == 200 and "Are you sure" in confirm.text
        _code_travels_only_in_post_bodies(confirm.text, private_code)

        # A code in a query string (a link of an earlier version) opens nothing.
        in_query = await browser.get(f"/follow?story={story_id}&token={private_code}")
        assert in_query.status_code == 200
        assert "data-status" not in in_query.text
        assert private_code not in in_query.text

        withdrawn = await browser.post(
            "/follow/withdraw",
            {"story": story_id, "token": private_code, "confirmed": "yes", "csrf_token": csrf},
        )
        assert withdrawn.status_code == 200, "no redirect: a Location would carry the code"
        assert 'data-status="withdrawn"' in withdrawn.text
        assert "location" not in withdrawn.headers
        _code_travels_only_in_post_bodies(withdrawn.text, private_code)


async def test_rotating_the_jwt_key_ends_every_page_session(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    """After a suspected leak the operator rotates CANDOUR_JWT_SECRET: sessions opened
    under the old key end with it (in-process apps on a real database, one after the
    other, as a rolling restart would run them)."""
    database = await create_database("moderation")

    def console(key: str) -> FastAPI:
        return create_moderation_app(
            ModerationSettings(
                database_url=database,
                kafka_bootstrap=kafka_bootstrap,
                topic_prefix=topics.prefix,
                jwt_secret=key,
            )
        )

    old_key, new_key = SECRET, "rotated-key-0123456789abcdef0123456789abcdef"
    async with serving(console(old_key)) as client:
        form = await client.get("/console/sign-in")
        token = issue_token(old_key, role=Role.MODERATOR, subject="mo")
        signed = await client.post(
            "/console/sign-in", data={"token": token, "csrf_token": csrf_of(form.text)}
        )
        assert signed.status_code == 303
        assert (await client.get("/console")).status_code == 200
        cookies = dict(client.cookies)
    async with serving(console(new_key)) as client:
        client.cookies.update(cookies)
        after = await client.get("/console")
    assert after.status_code == 303 and "sign-in" in after.headers["location"]
