"""The pages still work under their Content-Security-Policy, in a real browser.

A policy that forbids inline script and style is only worth having if the pages
keep to it: Chromium loads every kind of page of the four services (production
mode, real processes) and must report no CSP violation. The share page's
script (from 'self') must still run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from candour_common.auth import Role, issue_token
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _chromium_installed
from tests.faults.platform import CLEAN_BODY, SECRET, TRUST, Platform, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Browser]:
    if not _chromium_installed():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/install_browser.sh` first")
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


async def _published_story(platform: Platform) -> str:
    async with httpx.AsyncClient(timeout=30) as http:
        created = await http.post(
            f"{platform.one('story-intake').url}/v1/stories",
            json={
                "title": f"Story {platform.run_tag} in a browser",
                "body": CLEAN_BODY,
                "organisation_id": TRUST.id,
                "service_id": "TAD-CMHT",
                "author": {"display_name": "Sam", "relationship": "patient"},
            },
        )
        assert created.status_code == 201, created.text
        story_id = str(created.json()["story_id"])

        async def searchable() -> bool:
            answer = await http.get(f"{platform.one('search').url}/v1/stories/{story_id}")
            return answer.status_code == 200

        await eventually(searchable, timeout=90, what="the story published in search")
    return story_id


async def _visit(page: Page, url: str, violations: list[str]) -> None:
    answer = await page.goto(url)
    assert answer is not None and answer.ok, f"{url}: {answer.status if answer else 'none'}"
    await page.wait_for_load_state("load")
    await asyncio.sleep(0.2)  # violations are reported asynchronously
    assert not violations, f"{url} broke its policy: {violations}"


async def test_no_page_breaks_its_content_security_policy(
    four_services: Platform, chromium: Browser
) -> None:
    story_id = await _published_story(four_services)
    intake, moderation, notifications, search = (
        four_services.one(name).url
        for name in ("story-intake", "moderation", "notifications", "search")
    )
    context = await chromium.new_context(locale="en-GB")
    page = await context.new_page()
    violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            violations.append(message.text)

    page.on("console", on_console)
    try:
        for url in (
            f"{intake}/share",
            f"{intake}/follow",
            f"{intake}/respond/sign-in",
            f"{moderation}/console/sign-in",
            f"{notifications}/alerts/sign-in",
            f"{search}/",
            f"{search}/search?q=listened",
            f"{search}/stories/{story_id}",
            f"{search}/organisations/{TRUST.id}",
            f"{search}/who-listens",
            f"{search}/docs",
        ):
            await _visit(page, url, violations)

        # The share page's own script ('self') still runs: it counts words as you type.
        await _visit(page, f"{intake}/share", violations)
        await page.fill("#body", "one two three")
        count = page.locator("#body-count")
        await count.wait_for()
        assert "words remaining" in (await count.text_content() or "")

        # A signed-in page: the moderation console with its queue (Chromium keeps
        # Secure cookies for 127.0.0.1, a potentially trustworthy origin).
        await _visit(page, f"{moderation}/console/sign-in", violations)
        token = issue_token(SECRET, role=Role.MODERATOR, subject="csp-check")
        await page.fill("#token", token)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_load_state("load")
        assert page.url.endswith("/console"), page.url
        assert not violations, violations
    finally:
        await context.close()
