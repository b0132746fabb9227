"""The moderation console's story page in Welsh, in a real browser, with the axe check:
a moderator claims a serious story, gets the refused approval explained in Welsh, and
rejects it with a Welsh reason; the page keeps `<html lang="cy">`, its hreflang
alternates and the switch back to English throughout.

moderation runs as a real process (a fresh database, real Kafka), with the fixtures of
the English console tests.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from candour_common.topics import TopicNames
from tests.browser import test_moderation_console as moderating
from tests.browser.conftest import axe_check, save_screenshot
from tests.browser.test_welsh_pages import expect_language
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

moderation = moderating.moderation  # the running service (a fixture, found by its name)


async def test_a_moderator_decides_a_serious_story_in_welsh(
    moderation: ServiceProcess, kafka_bootstrap: str, topics: TopicNames, page: Page
) -> None:
    serious = moderating.submitted("After discharge", "Since discharge I want to kill myself.")
    await moderating.send_submitted(kafka_bootstrap, topics, serious)
    await moderating.wait_until_queued(moderation, serious)

    await page.goto(f"{moderation.url}/console/sign-in?lang=cy")
    await page.get_by_label("Tocyn cymedrolwr").fill(moderating.moderator_token())
    await page.get_by_role("button", name="Mewngofnodi").click()
    await page.get_by_role("link", name="After discharge").click()

    await expect_language(page, "cy")
    await expect(page.locator("#language-switch")).to_have_text("English")
    await expect(page.locator("#safeguarding-title")).to_have_text("Diogelu")
    await expect(page.locator("#safeguarding-flags")).to_contain_text("hunanladdiad")
    await expect(page.locator("#decision")).to_have_text("Eich penderfyniad")
    await axe_check(page)
    await save_screenshot(page, "welsh-console-story")

    await page.get_by_role("button", name="Hawlio'r stori hon").click()
    await expect(page.get_by_role("status").first).to_contain_text("Rydych chi wedi hawlio")
    await expect(page.locator("#claim-status")).to_contain_text(
        re.compile(r"Rydych chi'n gweithio ar y stori hon tan \d+ \w+ \d{4}")
    )

    await page.get_by_label("5: hynod feirniadol").check()
    await page.get_by_role("button", name="Cymeradwyo a chyhoeddi").click()
    await expect_language(page, "cy")
    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("Mae problem wedi codi")
    await expect(page.locator("#acknowledge_safeguarding-error")).to_contain_text(
        "gyfatebiaeth ddiogelu ddifrifol"
    )
    await axe_check(page)
    await save_screenshot(page, "welsh-console-story-error")

    await page.get_by_label("Rheswm", exact=True).select_option("safeguarding_escalated")
    await expect(page.locator("#reason option:checked")).to_have_text(
        "Diogelu: wedi'i uwchgyfeirio, heb ei gyhoeddi"
    )
    await page.get_by_role("button", name="Gwrthod", exact=True).click()
    await expect(page).to_have_url(f"{moderation.url}/console?done=rejected")
    await expect(page.get_by_role("status")).to_contain_text("Cafodd y stori ei gwrthod")
    assert (await moderating.api_story(moderation, serious.story_id))["status"] == "rejected"
