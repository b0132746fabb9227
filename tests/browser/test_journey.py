"""A person's journey across the four services, in a real browser.

A patient shares a story; a moderator signs in, sees the redaction suggestions and
approves with a criticality; staff of the trust respond; the story and the response
appear on the public story page and in search.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page, expect

from candour_common.auth import Role, issue_token
from candour_common.runtime import migrate_database
from candour_common.topics import TopicNames
from candour_intake.adapters import repository
from tests.browser.conftest import axe_check, save_screenshot
from tests.conftest import free_port
from tests.infra import MailSink
from tests.integration.intake.conftest import TRUSTS
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360)]

SECRET = "journey-secret-0123456789abcdef0123456789abcdef"
UNSUBSCRIBE_SECRET = "journey-unsubscribe-0123456789abcdef01234567"


@pytest.fixture
async def platform(
    create_database, kafka_bootstrap: str, topics: TopicNames, smtp_server: MailSink, tmp_path: Path
) -> AsyncIterator[dict[str, ServiceProcess]]:
    names = ("story-intake", "moderation", "notifications", "search")
    databases = {name: await create_database(name.replace("-", "_")) for name in names}
    await migrate_database(databases["story-intake"], "candour_intake.migrations")
    conn = await asyncpg.connect(databases["story-intake"])
    try:
        for trust in TRUSTS:
            await repository.PostgresDirectory(conn).upsert(trust)
    finally:
        await conn.close()
    ports = {name: free_port() for name in names}
    links = {
        "CANDOUR_INTAKE_PUBLIC_URL": f"http://127.0.0.1:{ports['story-intake']}",
        "CANDOUR_MODERATION_PUBLIC_URL": f"http://127.0.0.1:{ports['moderation']}",
        "CANDOUR_NOTIFICATIONS_PUBLIC_URL": f"http://127.0.0.1:{ports['notifications']}",
        "CANDOUR_SEARCH_PUBLIC_URL": f"http://127.0.0.1:{ports['search']}",
    }
    common = {
        "CANDOUR_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CANDOUR_TOPIC_PREFIX": topics.prefix,
        "CANDOUR_JWT_SECRET": SECRET,
        "CANDOUR_UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET,
        "CANDOUR_ENV": "dev",  # plain http on 127.0.0.1: cookies without Secure
        "CANDOUR_SMTP_HOST": smtp_server.host,
        "CANDOUR_SMTP_PORT": str(smtp_server.port),
        "CANDOUR_OUTBOX_POLL_INTERVAL": "0.5",
        **links,
    }
    services = {
        name: ServiceProcess(
            name=name,
            port=ports[name],
            env={**common, "CANDOUR_DATABASE_URL": databases[name]},
            log_path=tmp_path / f"{name}.log",
        )
        for name in names
    }
    for service in services.values():
        service.start()
    try:
        await asyncio.gather(*(s.wait_ready() for s in services.values()))
        yield services
    finally:
        for service in services.values():
            service.stop(signal.SIGTERM)


async def reload_until(page: Page, url: str, text: str, *, timeout: float = 60) -> None:
    """Open `url` until the page shows `text` (the pipeline is asynchronous)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await page.goto(url)
        if await page.get_by_text(text).count():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{url} never showed {text!r}")
        await asyncio.sleep(0.5)


async def test_share_moderate_respond_and_read(
    platform: dict[str, ServiceProcess], page: Page
) -> None:
    intake, moderation, search = (
        platform["story-intake"],
        platform["moderation"],
        platform["search"],
    )
    marker = f"lighthouse{uuid.uuid4().hex[:6]}"
    title = f"Listened to at the {marker} clinic"

    # 1. A patient shares their story (it names a nurse: a redaction to suggest).
    await page.goto(f"{intake.url}/share")
    await page.select_option("#place", "TAD|TAD-CMHT")
    await page.fill("#title", title)
    await page.fill(
        "#body",
        f"Nurse Amira at the {marker} clinic listened to me and rang me back the same day. "
        "I felt safe and understood for the first time in months.",
    )
    await page.fill("#display_name", "A patient")
    await page.check("#relationship")
    await page.get_by_role("button", name="Send my story").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("your story has been sent")
    story_id = await page.locator("#story-reference").input_value()
    private_code = await page.locator("#private-code").input_value()
    await save_screenshot(page, "journey-1-shared")

    # 2. A moderator signs in, sees the suggestion highlighted, approves as mildly critical.
    await page.goto(f"{moderation.url}/console")
    await page.get_by_label("Moderator token").fill(
        issue_token(SECRET, role=Role.MODERATOR, subject="mo")
    )
    await page.get_by_role("button", name="Sign in").click()
    await reload_until(page, f"{moderation.url}/console", title)
    await page.get_by_role("link", name=title).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    await expect(page.locator("mark").first).to_be_visible()
    await axe_check(page)
    await page.get_by_label("2: mildly critical").check()
    await page.get_by_role("button", name="Approve and publish").click()
    await expect(page.get_by_role("status")).to_contain_text("The story was approved")
    await save_screenshot(page, "journey-2-approved")

    # 3. The author's story reference and private code show it published.
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        await page.goto(f"{intake.url}/follow")
        await page.fill("#story", story_id)
        await page.fill("#token", private_code)
        await page.get_by_role("button", name="Show my story").click()
        if await page.locator('#story-status[data-status="published"]').count():
            break
        assert asyncio.get_running_loop().time() < deadline, "never shown as published"
        await asyncio.sleep(0.5)

    # 4. Staff of the trust sign in and respond with a planned change.
    await page.goto(f"{intake.url}/respond/{story_id}")
    await page.fill(
        "#token", issue_token(SECRET, role=Role.STAFF, subject="s", organisation_id="TAD")
    )
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Respond to a story")
    await page.fill("#body", "Thank you for telling us; we have shared this with the team.")
    await page.fill("#responder_name", "Sam Jones")
    await page.fill("#responder_role", "Service manager")
    await page.get_by_label("We are planning a change").check()
    await page.get_by_role("button", name="Preview your response").click()
    await page.get_by_role("button", name="Publish response").click()
    await expect(page.get_by_role("status")).to_contain_text("Your response has been published")

    # 5. The public story page shows the story, its response and the change marker...
    await reload_until(
        page, f"{search.url}/stories/{story_id}", "we have shared this with the team"
    )
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    await expect(page.locator(".change-marker").get_by_text("Change planned")).to_be_visible()
    await expect(page.locator("#story-progress [aria-current=step]")).to_contain_text(
        "Change planned"
    )
    # ...with the nurse's name redacted as the moderator approved it.
    assert "Amira" not in await page.content()
    await axe_check(page)
    await save_screenshot(page, "journey-3-story-page")

    # 6. And search finds it, the match highlighted.
    await page.goto(f"{search.url}/search?q={marker}")
    await expect(page.get_by_role("link", name=title)).to_be_visible()
    await expect(page.locator("mark").first).to_be_visible()
    await save_screenshot(page, "journey-4-search")
