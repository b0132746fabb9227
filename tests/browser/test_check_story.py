"""Check my story, in a real browser: each identifying detail marked, "Remove it" puts
the replacement in, then the story is sent as before; with JavaScript (in place) and
without it (a server round trip). axe-core scans each step.
"""

from __future__ import annotations

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import axe_check, save_screenshot
from tests.browser.test_share_story import fill_share_form
from tests.browser.test_share_story import intake as intake  # the fixture
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PHONE = "07700 900123"
IDENTIFYING_BODY = (
    f"Dr Patel on the ward gave me her direct line, {PHONE}, and said I could ring "
    "her if the pain came back. She explained every step."
)
DISTRESS_BODY = "I told the crisis team I don't want to be here any more and nobody called back."


async def sent_body(intake: ServiceProcess) -> str:
    conn = await asyncpg.connect(intake.env["CANDOUR_DATABASE_URL"])
    try:
        bodies = await conn.fetch("SELECT body FROM stories")
    finally:
        await conn.close()
    assert len(bodies) == 1
    return str(bodies[0]["body"])


async def check_then_remove_the_phone_number(page: Page, *, javascript: bool) -> None:
    await fill_share_form(page)
    await page.fill("#body", IDENTIFYING_BODY)
    await page.get_by_role("button", name="Check my story").click()
    await expect(page.get_by_role("heading", name="Check your story")).to_be_visible()
    marks = page.locator("#story-check-body mark")
    await expect(marks.filter(has_text=PHONE)).to_have_count(1)
    await expect(marks.filter(has_text="Patel")).to_have_count(1)
    # Nothing was said to need help, so none is shown first.
    await expect(page.locator(".help-now--prominent")).to_have_count(0)
    if javascript:  # axe-core runs as a script in the page
        await axe_check(page)
    await save_screenshot(page, f"intake-check-{'js' if javascript else 'no-js'}")

    if not javascript:
        # Enter in a field checks again: it never "removes" the first detail by surprise.
        async with page.expect_navigation(url="**/share/check"):
            await page.press("#title", "Enter")
        await expect(page.get_by_role("heading", name="Check your story")).to_be_visible()
        await expect(page.locator("#story-check-status")).not_to_contain_text("We took")
        await expect(marks.filter(has_text=PHONE)).to_have_count(1)
        await expect(marks.filter(has_text="Patel")).to_have_count(1)

    detail = page.locator(".story-check__details li").filter(has_text=PHONE)
    await detail.get_by_role("button", name="Remove it").click()
    await expect(page.locator("#story-check-status")).to_contain_text("We took it out")
    await expect(page.locator("#body")).to_have_value(
        IDENTIFYING_BODY.replace(PHONE, "[phone number]")
    )
    await expect(marks.filter(has_text=PHONE)).to_have_count(0)
    await expect(marks.filter(has_text="Patel")).to_have_count(1)  # still offered
    if javascript:
        await axe_check(page)
    await save_screenshot(page, f"intake-check-removed-{'js' if javascript else 'no-js'}")

    await page.get_by_role("button", name="Send my story").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("your story has been sent")


async def test_check_remove_a_detail_and_send_with_javascript(
    intake: ServiceProcess, page: Page
) -> None:
    await page.goto(f"{intake.url}/share")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    await check_then_remove_the_phone_number(page, javascript=True)
    # One page load for the check and one for sending: "Remove it" happened in place.
    assert [u.rsplit("/", 1)[-1] for u in navigations] == ["check", "sent"]
    body = await sent_body(intake)
    assert PHONE not in body and "[phone number]" in body and "Patel" in body
    # The check logs none of the story and none of the contact.
    logs = intake.logs()
    assert "Started server process" in logs  # the log was captured
    for private in (PHONE, "Patel", "author@example.org", "A patient"):
        assert private not in logs, private


async def test_check_remove_a_detail_and_send_without_javascript(
    intake: ServiceProcess, browser: Browser
) -> None:
    context = await browser.new_context(java_script_enabled=False, locale="en-GB")
    try:
        page = await context.new_page()
        await page.goto(f"{intake.url}/share")
        await check_then_remove_the_phone_number(page, javascript=False)
    finally:
        await context.close()
    body = await sent_body(intake)
    assert PHONE not in body and "[phone number]" in body and "Patel" in body


async def test_help_comes_first_when_the_story_suggests_someone_is_at_risk(
    intake: ServiceProcess, page: Page
) -> None:
    await page.goto(f"{intake.url}/share")
    await fill_share_form(page)
    await page.fill("#body", DISTRESS_BODY)
    await page.get_by_role("button", name="Check my story").click()
    help_now = page.locator(".help-now--prominent")
    await expect(help_now).to_be_visible()
    await expect(help_now).to_contain_text("116 123")
    await expect(help_now).to_contain_text("option 2")
    await expect(help_now).to_contain_text("999")
    # Before the check itself, in the order the page reads.
    check_box = await page.locator("#story-check").bounding_box()
    help_box = await help_now.bounding_box()
    assert help_box is not None and check_box is not None and help_box["y"] < check_box["y"]
    await axe_check(page)
    await save_screenshot(page, "intake-check-help-first")


async def test_a_story_can_be_sent_without_a_name(intake: ServiceProcess, page: Page) -> None:
    await page.goto(f"{intake.url}/share")
    await expect(page.locator("#display_name-hint")).to_contain_text("a patient")
    await fill_share_form(page)
    await page.fill("#display_name", "")
    await page.get_by_role("button", name="Send my story").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("your story has been sent")
    conn = await asyncpg.connect(intake.env["CANDOUR_DATABASE_URL"])
    try:
        assert await conn.fetchval("SELECT author_name FROM stories") is None
    finally:
        await conn.close()
