"""The author's journey in Welsh across the four services, in a real browser (issue 20):
check a story before sending it (an identifying detail taken out in place), send it,
get the "not published" email in Welsh, open its link, edit the story and send it again,
and get the "published" email in Welsh whose link opens the story on a Welsh page.
Emails are caught by a real SMTP server; axe-core scans every page the author sees."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from email.header import decode_header, make_header

import pytest
from playwright.async_api import Browser, Page, expect

from candour_common.auth import Role, issue_token
from tests.browser.conftest import axe_check, save_screenshot
from tests.browser.test_journey import SECRET, reload_until
from tests.browser.test_journey import platform as platform  # the fixture
from tests.infra import MailSink, ReceivedMail
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360)]

PHONE = "07700 900123"
AUTHOR = "awdur@cartref.example"


def subject(mail: ReceivedMail) -> str:
    return " ".join(str(make_header(decode_header(mail.subject))).split())


def link_in(mail: ReceivedMail, prefix: str) -> str:
    """The first link in the email's text that starts with `prefix`."""
    found = re.search(re.escape(prefix) + r"[^\s\"<>]*", mail.text())
    assert found, f"no link to {prefix} in {mail.text()!r}"
    return found.group().replace("&amp;", "&")


@pytest.fixture
async def moderator(browser: Browser) -> AsyncIterator[Page]:
    """The moderator's own browser (their cookies, their language: English)."""
    context = await browser.new_context(locale="en-GB")
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def moderator_opens(page: Page, moderation: ServiceProcess, title: str) -> None:
    """A moderator signs in to the console and claims the story."""
    await page.goto(f"{moderation.url}/console/sign-in")
    await page.get_by_label("Moderator token").fill(
        issue_token(SECRET, role=Role.MODERATOR, subject="mo")
    )
    await page.get_by_role("button", name="Sign in").click()
    await reload_until(page, f"{moderation.url}/console", title)
    await page.get_by_role("link", name=title).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    claim = page.get_by_role("button", name="Claim this story")
    if await claim.count():
        await claim.click()


async def test_check_send_rejected_edit_and_published_in_welsh(
    platform: dict[str, ServiceProcess], page: Page, moderator: Page, smtp_server: MailSink
) -> None:
    intake, moderation, search = (
        platform["story-intake"],
        platform["moderation"],
        platform["search"],
    )
    marker = f"goleudy{uuid.uuid4().hex[:6]}"
    title = f"Gwrandawodd y tîm yn {marker}"
    body = (
        f"Roedd y tîm yn {marker} yn wych o'r diwedd, ond roedd y dderbynfa yn ddiawledig. "
        f"Ffoniwch fi ar {PHONE} os hoffech wybod mwy."
    )

    # 1. Check before sending, in Welsh: the phone number is found and taken out in place.
    await page.goto(f"{intake.url}/share?lang=cy")
    await expect(page.locator("html")).to_have_attribute("lang", "cy")
    await page.select_option("#place", "TAD|TAD-CMHT")
    await page.fill("#title", title)
    await page.fill("#body", body)
    await page.check("#relationship")
    await expect(page.locator('input[name="language"][value="cy"]')).to_be_checked()
    await page.fill("#email", AUTHOR)
    await page.get_by_role("button", name="Gwirio fy stori").click()
    await expect(page.get_by_role("heading", name="Gwiriwch eich stori")).to_be_visible()
    detail = page.locator(".story-check__details li").filter(has_text=PHONE)
    await expect(detail).to_have_count(1)
    await axe_check(page)
    await save_screenshot(page, "welsh-journey-1-check")
    await detail.get_by_role("button", name="Ei dynnu allan").click()
    await expect(page.locator("#body")).not_to_have_value(re.compile(re.escape(PHONE)))

    # 2. Send it.
    await page.get_by_role("button", name="Anfon fy stori").click()
    story_id = await page.locator("#story-reference").input_value()
    code = await page.locator("#private-code").input_value()
    await expect(page.locator("html")).to_have_attribute("lang", "cy")
    await axe_check(page)
    await save_screenshot(page, "welsh-journey-2-sent")

    # 3. A moderator does not publish it: the words could hurt.
    await moderator_opens(moderator, moderation, title)
    await moderator.get_by_label("Reason").select_option("offensive")
    await moderator.get_by_role("button", name="Reject").click()
    await expect(moderator).to_have_url(f"{moderation.url}/console?done=rejected")

    # 4. The author is told, in Welsh, with the title but never the story, and a link.
    [refusal] = await smtp_server.wait_for(AUTHOR, timeout=90)
    assert subject(refusal) == f"Ni allem gyhoeddi eich stori: {title}"
    assert "ddiawledig" not in refusal.text() and code not in refusal.text()
    edit_link = link_in(refusal, f"{intake.url}/follow?story={story_id}")
    assert "lang=cy" in edit_link

    # 5. The link opens the follow page in Welsh; the private code opens the story.
    await page.goto(edit_link)
    await expect(page.locator("html")).to_have_attribute("lang", "cy")
    await expect(page.locator("#story")).to_have_value(story_id)
    await page.fill("#token", code)
    await page.get_by_role("button", name="Dangos fy stori").click()
    await expect(page.locator("#story-status")).to_have_attribute("data-status", "rejected")
    await axe_check(page)
    await save_screenshot(page, "welsh-journey-3-rejected")

    # 6. Edit and send again, checked first.
    await page.get_by_role("button", name="Golygu ac anfon eto").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Golygu eich stori")
    await page.fill("#body", f"Roedd y tîm yn {marker} yn wych o'r diwedd.")
    await page.get_by_role("button", name="Gwirio fy stori").click()
    await expect(page.get_by_role("heading", name="Gwiriwch eich stori")).to_be_visible()
    await axe_check(page)
    await page.get_by_role("button", name="Anfon fy stori eto").click()
    await expect(page.locator("#sent-again")).to_be_visible()
    await expect(page.locator("#story-status")).to_have_attribute("data-status", "submitted")
    await axe_check(page)
    await save_screenshot(page, "welsh-journey-4-sent-again")

    # 7. The moderator publishes the new version.
    await moderator_opens(moderator, moderation, title)
    await expect(moderator.locator("#original-body")).not_to_contain_text("ddiawledig")
    await moderator.get_by_label("2: mildly critical").check()
    await moderator.get_by_role("button", name="Approve and publish").click()
    await expect(moderator.get_by_role("status")).to_contain_text("The story was approved")

    # 8. The author is told it is published, in Welsh; the link opens it on a Welsh page.
    _, published = await smtp_server.wait_for(AUTHOR, count=2, timeout=90)
    assert subject(published) == f"Mae eich stori wedi'i chyhoeddi: {title}"
    story_link = link_in(published, f"{search.url}/stories/{story_id}")
    await reload_until(page, story_link, title)
    await expect(page.locator("html")).to_have_attribute("lang", "cy")
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    await axe_check(page)
    await save_screenshot(page, "welsh-journey-5-published")
    assert len(smtp_server.to(AUTHOR)) == 2
