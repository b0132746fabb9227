"""Edit and send again, in a real browser (issue 20): a story moderation did not
publish is opened from the follow page, changed, checked as on the share page ("Remove
it" in place), and sent again; the follow page then shows it submitted. In English and
in Welsh. axe-core scans each step."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from playwright.async_api import Page, expect

from candour_common.events import OrganisationRef, RejectionReason, StoryRejected
from candour_common.topics import TopicNames
from tests.browser.conftest import axe_check, save_screenshot
from tests.browser.test_share_story import fill_share_form
from tests.browser.test_share_story import intake as intake  # the fixture
from tests.integration.intake.test_lifecycle import publish
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PHONE = "07700 900123"
EDITED_BODY = (
    "The nurse explained every step, but I waited four hours first. Ring me on "
    f"{PHONE} if you want to know more."
)


async def share_and_follow(page: Page, base: str) -> tuple[str, str]:
    """Share a story, then open it from the follow form; its reference and code."""
    await page.goto(f"{base}/share")
    await fill_share_form(page)
    await page.get_by_role("button", name="Send my story").click()
    story_id = await page.locator("#story-reference").input_value()
    code = await page.locator("#private-code").input_value()
    return story_id, code


async def open_follow_page(page: Page, base: str, story_id: str, code: str, show: str) -> None:
    await page.goto(f"{base}/follow")
    await page.fill("#story", story_id)
    await page.fill("#token", code)
    await page.get_by_role("button", name=show).click()


async def rejected_by_moderation(
    kafka_bootstrap: str, topics: TopicNames, story_id: str, intake: ServiceProcess
) -> None:
    await publish(
        kafka_bootstrap,
        topics,
        StoryRejected(
            story_id=uuid.UUID(story_id),
            rejected_at=datetime.now(UTC),
            organisation=OrganisationRef(id="TAD", name="Bradford District Care"),
            reason=RejectionReason.NOT_ABOUT_CARE,
        ),
    )
    conn = await asyncpg.connect(intake.env["CANDOUR_DATABASE_URL"])
    try:
        for _ in range(150):
            if await conn.fetchval("SELECT status FROM stories") == "rejected":
                return
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    raise AssertionError("intake never learnt of the rejection")


async def stored(intake: ServiceProcess) -> tuple[str, str, int]:
    conn = await asyncpg.connect(intake.env["CANDOUR_DATABASE_URL"])
    try:
        row = await conn.fetchrow("SELECT status, body, version FROM stories")
    finally:
        await conn.close()
    assert row is not None
    return row["status"], row["body"], row["version"]


async def test_edit_a_rejected_story_check_it_and_send_it_again(
    intake: ServiceProcess, page: Page, kafka_bootstrap: str, topics: TopicNames
) -> None:
    story_id, code = await share_and_follow(page, intake.url)
    await rejected_by_moderation(kafka_bootstrap, topics, story_id, intake)
    await open_follow_page(page, intake.url, story_id, code, "Show my story")
    await expect(page.locator("#story-status")).to_have_attribute("data-status", "rejected")
    await axe_check(page)
    await save_screenshot(page, "intake-follow-rejected-edit")

    await page.get_by_role("button", name="Edit and send again").click()
    assert code not in page.url
    await expect(page.get_by_role("heading", level=1)).to_have_text("Edit your story")
    # The form holds the story as it was sent.
    await expect(page.locator("#title")).to_have_value("The nurse explained everything")
    await expect(page.locator("#place")).to_have_value("TAD|TAD-CMHT")
    await expect(page.get_by_label("kindness")).to_be_checked()
    await axe_check(page)
    await save_screenshot(page, "intake-edit-form")

    await page.fill("#body", EDITED_BODY)
    await page.get_by_role("button", name="Check my story").click()
    await expect(page.get_by_role("heading", name="Check your story")).to_be_visible()
    marks = page.locator("#story-check-body mark")
    await expect(marks.filter(has_text=PHONE)).to_have_count(1)
    await axe_check(page)
    await save_screenshot(page, "intake-edit-check")
    detail = page.locator(".story-check__details li").filter(has_text=PHONE)
    await detail.get_by_role("button", name="Remove it").click()
    await expect(page.locator("#story-check-status")).to_contain_text("We took it out")
    await expect(page.locator("#body")).to_have_value(EDITED_BODY.replace(PHONE, "[phone number]"))

    await page.get_by_role("button", name="Send my story again").click()
    await expect(page.locator("#sent-again")).to_be_visible()
    await expect(page.locator("#story-status")).to_have_attribute("data-status", "submitted")
    await axe_check(page)
    await save_screenshot(page, "intake-edit-sent-again")
    status, body, version = await stored(intake)
    assert (status, version) == ("submitted", 2)
    assert PHONE not in body and "[phone number]" in body


async def test_edit_and_send_again_in_welsh(intake: ServiceProcess, page: Page) -> None:
    await page.goto(f"{intake.url}/share?lang=cy")
    await page.select_option("#place", "TAD|TAD-CMHT")
    await page.fill("#title", "Esboniodd y nyrs bopeth")
    await page.fill("#body", "Esboniodd y nyrs bob cam ac roeddwn i'n deall beth fyddai'n digwydd.")
    await page.check("#relationship")
    await page.get_by_label("caredigrwydd").check()
    await page.get_by_role("button", name="Anfon fy stori").click()
    await page.get_by_role("button", name="Gweld eich stori nawr").click()
    await expect(page.locator("html")).to_have_attribute("lang", "cy")
    await page.get_by_role("button", name="Golygu ac anfon eto").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Golygu eich stori")
    await expect(page.locator("html")).to_have_attribute("lang", "cy")
    await expect(page.locator("#title")).to_have_value("Esboniodd y nyrs bopeth")
    await axe_check(page)
    await save_screenshot(page, "intake-edit-form-cy")
    await page.fill("#title", "Esboniodd y nyrs bopeth, yn garedig")
    await page.get_by_role("button", name="Anfon fy stori eto").click()
    await expect(page.locator("#sent-again")).to_contain_text("Mae'r fersiwn newydd")
    await expect(page.locator("#story-status")).to_have_attribute("data-status", "submitted")
    await axe_check(page)
    await save_screenshot(page, "intake-edit-sent-again-cy")
    assert (await stored(intake))[2] == 2
    conn = await asyncpg.connect(intake.env["CANDOUR_DATABASE_URL"])
    try:
        # Shared in Welsh, edited in Welsh: the form kept the story's language.
        assert await conn.fetchval("SELECT language FROM stories") == "cy"
    finally:
        await conn.close()
