"""The staff's pages in Welsh, in a real browser, with the axe check.

- The moderation console's story page: a moderator claims a serious story, gets the
  refused approval explained in Welsh, and rejects it with a Welsh reason.
- story-intake's respond pages: the inbox, the story with its form, an error, the
  preview and the published response.

Each page keeps `<html lang="cy">`, its hreflang alternates and the switch back to
English. The services run as real processes (fresh databases, real Kafka), with the
fixtures of the English console and respond tests.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from candour_common.auth import Role, issue_token
from candour_common.topics import TopicNames
from tests.browser import test_moderation_console as moderating
from tests.browser import test_staff_respond as responding
from tests.browser.conftest import axe_check, save_screenshot
from tests.browser.test_journey import reload_until
from tests.browser.test_welsh_pages import expect_language
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

# The running services (fixtures, found by their names).
moderation = moderating.moderation
intake_and_search = responding.intake_and_search


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


async def test_staff_respond_to_a_story_in_welsh(
    intake_and_search: dict[str, ServiceProcess],
    page: Page,
    kafka_bootstrap: str,
    topics: TopicNames,
) -> None:
    intake = intake_and_search["story-intake"]
    title = "Ffoniodd y llinell argyfwng yn ôl"
    await responding.publish_stories(intake, kafka_bootstrap, topics, [title])

    await page.goto(f"{intake.url}/respond?lang=cy")
    await page.get_by_label("Eich tocyn staff").fill(
        issue_token(responding.SECRET, role=Role.STAFF, subject="sam@tad", organisation_id="TAD")
    )
    await page.get_by_role("button", name="Mewngofnodi").click()
    await reload_until(page, f"{intake.url}/respond", title)
    await expect_language(page, "cy")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Straeon i'w hateb ar gyfer {responding.TAD.name}"
    )
    await expect(page.locator("#stories")).to_have_text("1 stori")
    await expect(page.locator(".inbox__item")).to_contain_text("heb gael ateb eto")
    await expect(page.locator("#language-switch")).to_have_text("English")
    await axe_check(page)
    await save_screenshot(page, "welsh-staff-inbox")

    await page.get_by_role("link", name=title).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ymateb i stori")
    await expect(page.get_by_text("Does neb wedi ymateb i'r stori hon eto.")).to_be_visible()
    await page.get_by_role("button", name="Rhagweld eich ymateb").click()
    await expect_language(page, "cy")
    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("Ysgrifennwch eich ymateb")
    await axe_check(page)
    await save_screenshot(page, "welsh-staff-respond-error")

    await page.get_by_label("Eich ymateb").fill("Diolch, rydym wedi rhannu hyn gyda'r tîm.")
    await page.get_by_label("Eich enw").fill("Sam Jones")
    await page.get_by_label("Eich rôl").fill("Rheolwr gwasanaeth")
    await page.get_by_label("Rydym yn cynllunio newid").check()
    await page.get_by_role("button", name="Rhagweld eich ymateb").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Gwiriwch eich ymateb cyn iddo gael ei gyhoeddi"
    )
    await axe_check(page)
    await page.get_by_role("button", name="Cyhoeddi'r ymateb").click()
    await expect(page.get_by_role("status")).to_contain_text("Mae eich ymateb wedi'i gyhoeddi.")
    await expect(page.locator(".responses")).to_contain_text("postiwyd")
    await expect(page.locator(".responses .tag")).to_have_text(
        "Rydym yn cynllunio newid oherwydd y stori hon"
    )
    await expect_language(page, "cy")
    await axe_check(page)
    await save_screenshot(page, "welsh-staff-published")
