"""A person shares a story in a real browser, follows it with the private link, withdraws it.

story-intake runs as a real process (fresh database seeded with a small directory,
real Kafka); chromium drives the pages; axe-core scans every page; screenshots of
each page go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from candour_common.auth import Role, issue_token
from candour_common.topics import TopicNames
from candour_intake.adapters import repository
from tests.browser.conftest import axe_check, save_screenshot
from tests.conftest import free_port
from tests.integration.intake.conftest import SECRET, seed_intake_database
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

STORY_BODY = (
    "I was anxious before my appointment, but the nurse explained every step and "
    "made sure I understood what would happen next."
)


@pytest.fixture
async def intake(
    create_database, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    url = await create_database("intake")
    await seed_intake_database(url)
    port = free_port()
    process = ServiceProcess(
        name="story-intake",
        port=port,
        env={
            "CANDOUR_DATABASE_URL": url,
            "CANDOUR_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "CANDOUR_TOPIC_PREFIX": topics.prefix,
            "CANDOUR_JWT_SECRET": SECRET,
            "CANDOUR_ENV": "dev",  # plain http on 127.0.0.1: cookies without Secure
            "CANDOUR_INTAKE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        },
        log_path=tmp_path / "story-intake.log",
    )
    process.start()
    try:
        await process.wait_ready()
        yield process
    finally:
        code = process.stop(signal.SIGTERM)
        print(f"----- story-intake log (exit {code}) -----\n{process.logs()[-4000:]}")


async def fill_share_form(page: Page) -> None:
    await page.select_option("#place", "TAD|TAD-CMHT")
    await page.fill("#title", "The nurse explained everything")
    await page.fill("#body", STORY_BODY)
    await page.fill("#display_name", "A patient")
    await page.check("#relationship")  # the first choice: I am the patient
    await page.get_by_label("kindness").check()
    await page.get_by_label("reassured").check()
    await page.fill("#email", "author@example.org")
    await page.get_by_label("Tell me when they respond").check()


async def test_share_follow_and_withdraw_a_story(intake: ServiceProcess, page: Page) -> None:
    await page.goto(f"{intake.url}/share")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Share your story")
    await axe_check(page)
    await save_screenshot(page, "intake-share-form")

    # Sending nothing shows every problem in a summary and next to its field.
    await page.get_by_role("button", name="Send my story").click()
    await expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    await expect(page.locator("#title-error")).to_contain_text("Enter a title")
    await expect(page.locator("#relationship-error")).to_be_visible()
    await axe_check(page)
    await save_screenshot(page, "intake-share-errors")

    await fill_share_form(page)
    await expect(page.locator("#body-count")).to_contain_text("words remaining")
    await page.get_by_role("button", name="Send my story").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("your story has been sent")
    await axe_check(page)
    await save_screenshot(page, "intake-share-done")
    story_id = await page.locator("#story-reference").input_value()
    code = await page.locator("#private-code").input_value()
    assert uuid.UUID(story_id) and len(code) >= 40

    # Later, from the lookup form: the code goes in the form's body, never in a URL.
    await page.goto(f"{intake.url}/follow")
    await page.fill("#story", story_id)
    await page.fill("#token", code)
    await page.get_by_role("button", name="Show my story").click()
    assert code not in page.url
    await expect(page.locator("#story-status")).to_have_attribute("data-status", "submitted")
    await expect(page.locator("#story-status")).to_contain_text("Submitted")
    await axe_check(page)
    await save_screenshot(page, "intake-follow-submitted")

    await page.get_by_role("button", name="Withdraw my story").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Are you sure")
    await axe_check(page)
    await save_screenshot(page, "intake-withdraw-confirm")

    await page.get_by_role("button", name="Yes, withdraw my story").click()
    await expect(page.locator("#story-status")).to_have_attribute("data-status", "withdrawn")
    await expect(page.get_by_role("button", name="Withdraw my story")).to_have_count(0)
    await axe_check(page)
    await save_screenshot(page, "intake-follow-withdrawn")


async def test_the_share_form_works_without_javascript(
    intake: ServiceProcess, browser: Browser
) -> None:
    context = await browser.new_context(java_script_enabled=False, locale="en-GB")
    try:
        page = await context.new_page()
        await page.goto(f"{intake.url}/share")
        # Without JavaScript there is no live counter and no search box, and nothing breaks.
        await expect(page.locator("#body-count")).to_have_text("")
        await expect(page.locator("#place-filter")).to_have_count(0)
        await fill_share_form(page)
        await page.get_by_role("button", name="Send my story").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text(
            "your story has been sent"
        )
        await save_screenshot(page, "intake-share-done-no-js")
        await page.get_by_role("button", name="See your story now").click()
        await expect(page.locator("#story-status")).to_have_attribute("data-status", "submitted")
    finally:
        await context.close()


async def test_staff_sign_in_and_respond_to_a_published_story(
    intake: ServiceProcess, page: Page
) -> None:
    await page.goto(f"{intake.url}/share")
    await fill_share_form(page)
    await page.get_by_role("button", name="Send my story").click()
    story_id = uuid.UUID(await page.locator("#story-reference").input_value())
    code = await page.locator("#private-code").input_value()
    # Publishing is moderation's job (over Kafka); here the test stands in for it.
    conn = await asyncpg.connect(intake.env["CANDOUR_DATABASE_URL"])
    try:
        await repository.PostgresStories(conn).mark_published(story_id, datetime.now(UTC), 1)
    finally:
        await conn.close()

    # The address of earlier emails still leads to the response page, through sign-in.
    await page.goto(f"{intake.url}/stories/{story_id}/respond")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Sign in")
    await axe_check(page)
    await save_screenshot(page, "intake-respond-sign-in")
    token = issue_token(SECRET, role=Role.STAFF, subject="sam@tad", organisation_id="TAD")
    await page.fill("#token", token)
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Respond to a story")
    await page.get_by_role("button", name="Preview your response").click()
    await expect(page.locator("#body-error")).to_be_visible()
    await axe_check(page)
    await save_screenshot(page, "intake-respond-errors")

    await page.fill("#body", "Thank you for telling us. We have shared this with the team.")
    await page.fill("#responder_name", "Sam Jones")
    await page.fill("#responder_role", "Ward manager")
    await page.get_by_label("We are planning a change").check()
    await page.get_by_role("button", name="Preview your response").click()
    await page.get_by_role("button", name="Publish response").click()
    await expect(page.get_by_role("status")).to_contain_text("Your response has been published")
    await axe_check(page)
    await save_screenshot(page, "intake-respond-posted")

    await page.goto(f"{intake.url}/follow")
    await page.fill("#story", str(story_id))
    await page.fill("#token", code)
    await page.get_by_role("button", name="Show my story").click()
    await expect(page.locator("#response-count")).to_have_text("1")

    await page.goto(f"{intake.url}/respond")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Sign in")


async def _stories(intake: ServiceProcess) -> int:
    conn = await asyncpg.connect(intake.env["CANDOUR_DATABASE_URL"])
    try:
        return int(await conn.fetchval("SELECT count(*) FROM stories"))
    finally:
        await conn.close()


async def test_reloading_the_confirmation_sends_nothing_and_the_private_link_opens_the_story(
    intake: ServiceProcess, page: Page
) -> None:
    """Issue 23: a refresh of the confirmation sent the story a second time."""
    await page.goto(f"{intake.url}/share")
    await fill_share_form(page)
    await page.get_by_role("button", name="Send my story").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("your story has been sent")
    assert page.url.endswith("/share/sent")
    await expect(page.locator("#what-next")).to_contain_text("usually within a working day")
    link = await page.locator("#follow-link").input_value()
    await page.reload()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("your story has been sent")
    assert await page.locator("#follow-link").input_value() == link
    assert await _stories(intake) == 1
    # The copy button (progressive enhancement from a static script) says it copied.
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.get_by_role("button", name="Copy link").click()
    await expect(page.locator("#copy-status")).to_have_text("Link copied")
    await axe_check(page)
    await save_screenshot(page, "share-confirmation")
    # The private link opens the author's page on its own.
    await page.goto(link)
    await expect(page.locator("#story-status")).to_have_attribute("data-status", "submitted")


async def test_the_organisation_picker_matches_words_in_any_order(
    intake: ServiceProcess, page: Page
) -> None:
    await page.goto(f"{intake.url}/share")
    await page.get_by_label("Search the list").fill("team crisis")
    options = page.locator("#place optgroup option:not([hidden])")
    await expect(options).to_have_count(1)
    assert "Crisis team" in (await options.first.text_content() or "")
    await expect(page.locator("#place-filter-status")).to_have_text("1 match in the list")
    await page.get_by_label("Search the list").fill("nowhere trust")
    await expect(page.locator("#place-filter-status")).to_contain_text(
        "No organisation or service matches"
    )
    await axe_check(page)
