"""Privacy, inert markup and secrets, with the four services as real processes.

One story, written with HTML and SQL-looking text by an author who left an email address,
travels submission -> auto-approval -> search and the trust's inbox -> a staff response
-> the author's email -> withdrawal. Along the way:
- the author's email never appears in story.approved, response.posted, any log line of
  any process, any search answer, or any staff email;
- markup and SQL-looking text come back as the same inert text in search results and
  story pages, and escaped in HTML email;
- no secret (JWT key, SMTP password, database password) appears in any log line;
- after the withdrawal, no text of the story is left in the moderation, search or
  notifications databases.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from candour_common.auth import Role
from candour_common.topics import Topic, TopicNames
from tests.faults.platform import (
    SECRET,
    SUBSCRIBER,
    TRUST,
    Platform,
    RestartableSmtp,
    bearer,
    eventually,
    platform_setup,
    start,
)
from tests.infra import read_topic

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

MARKER = f"quokka{uuid.uuid4().hex[:8]}"
AUTHOR_EMAIL = f"sam.{uuid.uuid4().hex[:8]}@private.example"
SMTP_PASSWORD = f"smtp-pw-{uuid.uuid4().hex}"
DB_PASSWORD = f"db-pw-{uuid.uuid4().hex}"
TITLE = f'<script>alert("x")</script> Fish & chips {MARKER}'
BODY = (
    f"The {MARKER} ward was calm. <b>Bold</b> <img src=x onerror=alert(1)> "
    "'); drop table search_stories; -- and ' or 1=1 -- were all on my mind."
)
RESPONSE = f"Thank you <i>so</i> much {MARKER}; <a href='javascript:alert(1)'>reply</a>"


async def _with_db_password(url: str) -> str | None:
    """`url` with DB_PASSWORD instead of its password, if the server accepts it (trust auth)."""
    head, _, rest = url.partition("://")
    credentials, _, location = rest.partition("@")
    user = credentials.split(":", 1)[0]
    candidate = f"{head}://{user}:{DB_PASSWORD}@{location}"
    try:
        conn = await asyncpg.connect(candidate)
    except (asyncpg.PostgresError, OSError):
        return None
    await conn.close()
    return candidate


@pytest.fixture
async def platform(
    create_database, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> AsyncIterator[Platform]:
    both: tuple[Platform, RestartableSmtp]
    async with platform_setup(
        create_database, kafka_bootstrap, topics, tmp_path, smtp_password=SMTP_PASSWORD
    ) as both:
        platform = both[0]
        for name, env in platform.env.items():
            secret_url = await _with_db_password(env["CANDOUR_DATABASE_URL"])
            if secret_url is not None:
                env["CANDOUR_DATABASE_URL"] = secret_url
                platform.databases[name] = secret_url
        await start(platform)
        yield platform


async def _tables_holding(platform: Platform, service: str, needles: list[str]) -> list[str]:
    """`table: needle` for every table of the service's database with a row containing it."""
    found: list[str] = []
    conn = await asyncpg.connect(platform.databases[service])
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
        for (table,) in tables:
            rows = await conn.fetch(f'SELECT t::text AS row FROM "{table}" AS t')
            for needle in needles:
                if any(needle in r["row"] for r in rows):
                    found.append(f"{service}.{table}: {needle}")
    finally:
        await conn.close()
    return found


async def test_author_contact_stays_private_markup_is_inert_and_withdrawal_erases(
    platform: Platform,
) -> None:
    await platform.subscribe_trust()
    search = platform.one("search").url
    async with httpx.AsyncClient(timeout=10) as http:
        submitted = await http.post(
            f"{platform.one('story-intake').url}/v1/stories",
            json={
                "title": TITLE,
                "body": BODY,
                "organisation_id": TRUST.id,
                "author": {
                    "display_name": "Sam",
                    "relationship": "patient",
                    "email": AUTHOR_EMAIL,
                    "notify_on_response": True,
                },
            },
        )
        assert submitted.status_code == 201, submitted.text
        story_id = submitted.json()["story_id"]
        author_token = submitted.json()["author_token"]

        async def published() -> httpx.Response | None:
            page = await http.get(f"{search}/v1/stories/{story_id}")
            return page if page.status_code == 200 else None

        page = await eventually(published, timeout=60, what="the story page")
        # Inert text: exactly what was written, not interpreted, not mangled.
        assert page.json()["title"] == TITLE
        assert page.json()["body"] == BODY
        results = (await http.get(f"{search}/v1/search", params={"q": MARKER})).json()
        assert [r["story_id"] for r in results["results"]] == [story_id]
        assert results["results"][0]["title"] == TITLE
        sql_looking = await http.get(f"{search}/v1/search", params={"q": "'); drop table --"})
        assert sql_looking.status_code == 200
        assert (await http.get(f"{search}/v1/search", params={"q": MARKER})).json()["total"] == 1

        [staff_mail] = await platform.smtp.wait_for(SUBSCRIBER, timeout=60)
        html_parts = [
            part.get_payload(decode=True).decode()
            for part in staff_mail.message.walk()
            if part.get_content_type() == "text/html"
        ]
        for html in html_parts:
            assert "<script>" not in html and "&lt;script&gt;" in html
        assert MARKER in staff_mail.text()

        async def responded() -> bool:
            answer = await http.post(
                f"{platform.one('story-intake').url}/v1/stories/{story_id}/responses",
                headers=bearer(Role.STAFF, organisation_id=TRUST.id),
                json={"body": RESPONSE, "responder": {"display_name": "Jo", "role": "Ward lead"}},
            )
            assert answer.status_code in (201, 409), answer.text
            return answer.status_code == 201

        await eventually(responded, timeout=60, what="intake to accept a response")
        # The author is told it is published, then of the response (issue #20).
        mails = await platform.smtp.wait_for(AUTHOR_EMAIL, count=2, timeout=60)
        [author_mail] = [m for m in mails if "responded" in m.subject]
        for part in author_mail.message.walk():
            if part.get_content_type() == "text/html":
                html = part.get_payload(decode=True).decode()
                assert "<a href='javascript" not in html and "<i>so</i>" not in html

        async def response_indexed() -> bool:
            page = (await http.get(f"{search}/v1/stories/{story_id}")).json()
            return bool(page["responses"])

        await eventually(response_indexed, timeout=60, what="the response in search")
        page = await http.get(f"{search}/v1/stories/{story_id}")
        assert page.json()["responses"][0]["body"] == RESPONSE

        # The author's email: not in published events, search answers or staff email.
        for topic in (Topic.STORY_APPROVED, Topic.RESPONSE_POSTED):
            records = await read_topic(platform.kafka, platform.topics.name(topic), at_least=1)
            for record in records:
                assert AUTHOR_EMAIL.encode() not in (record.value or b"")
                assert AUTHOR_EMAIL not in str(record.headers)
        assert AUTHOR_EMAIL not in page.text
        assert AUTHOR_EMAIL not in results.__repr__() + str(results)
        for mail in platform.smtp.to(SUBSCRIBER):
            assert AUTHOR_EMAIL not in mail.message.as_string()

        withdrawn = await http.delete(
            f"{platform.one('story-intake').url}/v1/stories/{story_id}",
            headers={"Authorization": f"Bearer {author_token}"},
        )
        assert withdrawn.status_code == 202, withdrawn.text

        async def gone_from_search() -> bool:
            return (await http.get(f"{search}/v1/stories/{story_id}")).status_code == 404

        await eventually(gone_from_search, timeout=60, what="the story to leave search")

    # No log line of any process holds the author's email or a secret.
    logs = platform.all_logs()
    assert "story withdrawn" in logs or "event handled" in logs  # the logs were captured
    assert AUTHOR_EMAIL not in logs
    assert SECRET not in logs
    assert SMTP_PASSWORD not in logs
    assert DB_PASSWORD not in logs

    async def erased() -> list[str] | None:
        left = []
        for service in ("moderation", "search", "notifications"):
            left += await _tables_holding(platform, service, [MARKER, AUTHOR_EMAIL])
        return None if left else ["clean"]

    try:
        await eventually(erased, timeout=30, what="withdrawn text to be erased")
    except AssertionError:
        left = []
        for service in ("moderation", "search", "notifications"):
            left += await _tables_holding(platform, service, [MARKER, AUTHOR_EMAIL])
        raise AssertionError(f"withdrawn story text left behind: {left}") from None
