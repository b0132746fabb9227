"""The author's pages, the public search pages and the moderation queue in Welsh, in a
real browser.

`?lang=cy` gives a page in Welsh (`<html lang="cy">`, hreflang alternates for both
languages, a "English" switch in the header); the choice is kept in the `lang` cookie
(SameSite=Lax), so the next page, reached without `?lang=`, is Welsh too; the switch
goes back to English and that is remembered the same way. A browser that asks for
Welsh (Accept-Language) gets it without choosing. axe-core scans every Welsh page.

story-intake, search and moderation run as real processes (fresh databases, real
Kafka), with the fixtures of the English browser tests.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from candour_common.topics import TopicNames
from tests.browser import test_moderation_console as moderating
from tests.browser import test_search_pages as reading
from tests.browser import test_share_story as sharing
from tests.browser.conftest import axe_check, save_screenshot
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

# The running services of the English tests (fixtures are found by their names here).
intake = sharing.intake
search = reading.search
moderation = moderating.moderation


async def expect_language(page: Page, language: str) -> None:
    """The page says which language it is in and links its versions in both."""
    await expect(page.locator("html")).to_have_attribute("lang", language)
    for other in ("en", "cy"):
        alternate = page.locator(f'link[rel="alternate"][hreflang="{other}"]')
        await expect(alternate).to_have_count(1)
        await expect(alternate).to_have_attribute("href", re.compile(rf"[?&]lang={other}\b"))


async def lang_cookie(page: Page) -> dict[str, object]:
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert "lang" in cookies, sorted(cookies)
    return dict(cookies["lang"])


async def test_an_author_shares_and_follows_a_story_in_welsh(
    intake: ServiceProcess, page: Page
) -> None:
    await page.goto(f"{intake.url}/share?lang=cy")
    await expect_language(page, "cy")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Rhannu eich stori")
    await expect(page.locator("#language-switch")).to_have_text("English")
    await expect(page.locator("#body-count")).to_contain_text("o eiriau ar ôl")
    # The story's language starts as the page's (issue 20).
    await expect(page.get_by_role("group", name="Ym mha iaith mae eich stori?")).to_be_visible()
    await expect(page.get_by_label("Cymraeg", exact=True)).to_be_checked()
    await expect(page.get_by_label("Saesneg", exact=True)).not_to_be_checked()
    cookie = await lang_cookie(page)
    assert cookie["value"] == "cy" and cookie["sameSite"] == "Lax"
    await axe_check(page)
    await save_screenshot(page, "welsh-share-form")

    # Errors shown to the author are Welsh too; the page is reached without ?lang=.
    await page.get_by_role("button", name="Anfon fy stori").click()
    await expect_language(page, "cy")
    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("Mae problem wedi codi")
    await expect(page.locator("#title-error")).to_contain_text("Rhowch deitl i'ch stori")
    await expect(page.locator("#relationship-error")).to_contain_text("Dewiswch eich cysylltiad")
    await axe_check(page)
    await save_screenshot(page, "welsh-share-errors")

    await page.select_option("#place", "TAD|TAD-CMHT")
    await page.fill("#title", "Esboniodd y nyrs bopeth")
    await page.fill("#body", sharing.STORY_BODY)
    await page.fill("#display_name", "Claf")
    await page.check("#relationship")
    await page.get_by_label("caredigrwydd").check()
    await page.get_by_role("button", name="Anfon fy stori").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Diolch, mae eich stori wedi'i hanfon"
    )
    await expect_language(page, "cy")
    await axe_check(page)
    await save_screenshot(page, "welsh-share-done")

    await page.get_by_role("button", name="Gweld eich stori nawr").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Eich stori")
    await expect(page.locator("#story-status")).to_contain_text("Wedi'i chyflwyno")
    await expect_language(page, "cy")
    await axe_check(page)
    await save_screenshot(page, "welsh-follow")

    # The switch goes to the same page in English, and English is remembered.
    await page.goto(f"{intake.url}/follow")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dilyn eich stori")
    await page.locator("#language-switch").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Follow your story")
    await expect_language(page, "en-GB")
    await expect(page.locator("#language-switch")).to_have_text("Cymraeg")
    assert (await lang_cookie(page))["value"] == "en"
    await page.goto(f"{intake.url}/share")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Share your story")
    await expect(page.get_by_label("English", exact=True)).to_be_checked()

    # Staff sign in to respond in Welsh too.
    await page.goto(f"{intake.url}/respond/sign-in?lang=cy")
    await expect_language(page, "cy")
    await page.get_by_role("button", name="Mewngofnodi").click()
    await expect(page.locator("#token-error")).to_contain_text("Gludwch y tocyn staff")
    await axe_check(page)


async def test_a_reader_searches_and_reads_in_welsh(
    search: ServiceProcess, kafka_bootstrap: str, topics: TopicNames, page: Page
) -> None:
    await reading.publish(kafka_bootstrap, topics, [reading.STORY, *reading.OTHERS, reading.ANSWER])
    await reading.wait_indexed(search, stories=1 + len(reading.OTHERS))

    await page.goto(f"{search.url}/?lang=cy")
    await expect_language(page, "cy")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Darllen a chwilio straeon")
    await expect(page.locator(".story-summary")).to_have_count(3)
    await axe_check(page)
    await save_screenshot(page, "welsh-search-home")

    await page.get_by_role("link", name="Pwy sy'n gwrando: sut mae sefydliadau'n ateb").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Pwy sy'n gwrando")
    # The demo stories are older than the longest period: the page says so, in Welsh.
    await expect(page.locator("#no-organisations")).to_contain_text("Ni chyhoeddwyd unrhyw straeon")
    await expect(page.locator("#periods")).to_contain_text("365 diwrnod")
    await axe_check(page)
    await save_screenshot(page, "welsh-who-listens")
    await page.go_back()

    # The search form does not carry ?lang=: the cookie keeps the results Welsh.
    await page.get_by_label("Chwilio pob stori").fill("midwife")
    await page.get_by_role("button", name="Chwilio").click()
    await expect(page).not_to_have_url(re.compile(r"lang="))
    await expect_language(page, "cy")
    await expect(page.locator("#results-heading")).to_have_text("1 stori yn cyfateb i “midwife”")
    await expect(page.locator(".story-summary__about").first).to_contain_text("cyhoeddwyd")
    await axe_check(page)
    await save_screenshot(page, "welsh-search-results")

    await page.get_by_role("link", name=reading.STORY.title).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(reading.STORY.title)
    await expect_language(page, "cy")
    await expect(page.locator(".change-marker")).to_have_text("Newid wedi'i wneud")
    await expect(page.locator("#story-criticality")).to_contain_text("ddim yn feirniadol")
    await expect(page.get_by_role("heading", name="1 ymateb")).to_be_visible()
    await axe_check(page)
    await save_screenshot(page, "welsh-search-story")

    # The organisation's page: figures, charts, story map and months in Welsh.
    await page.locator("article").get_by_role("link", name=reading.ORG_A.name).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(reading.ORG_A.name)
    await expect_language(page, "cy")
    await expect(page.get_by_role("heading", name="Sut cafodd straeon eu hateb")).to_be_visible()
    await expect(page.locator("#figure-median")).to_have_text("6 awr")
    await expect(page.locator("#monthly-figures tbody tr").first).to_contain_text("Mehefin 2025")
    await expect(page.locator("#story-map-heading")).to_have_text("Map straeon")
    await axe_check(page)
    await save_screenshot(page, "welsh-search-organisation")
    await page.go_back()

    await page.locator("#language-switch").click()
    await expect_language(page, "en-GB")
    await expect(page.locator(".change-marker")).to_have_text("Change made")

    await page.goto(f"{search.url}/stories/00000000-0000-0000-0000-000000000000?lang=cy")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Heb ddod o hyd i'r stori")
    await axe_check(page)


async def test_a_browser_that_asks_for_welsh_gets_it(
    search: ServiceProcess, browser: Browser
) -> None:
    context = await browser.new_context(locale="cy-GB")  # Accept-Language: cy-GB
    try:
        welsh = await context.new_page()
        await welsh.goto(f"{search.url}/organisations")
        await expect_language(welsh, "cy")
        await expect(welsh.get_by_role("heading", level=1)).to_have_text("Sefydliadau")
        await axe_check(welsh)
        await save_screenshot(welsh, "welsh-organisations")
    finally:
        await context.close()


async def test_a_moderator_signs_in_and_reads_the_queue_in_welsh(
    moderation: ServiceProcess, kafka_bootstrap: str, topics: TopicNames, page: Page
) -> None:
    serious = moderating.submitted("After discharge", "Since discharge I want to kill myself.")
    await moderating.send_submitted(kafka_bootstrap, topics, serious)
    await moderating.wait_until_queued(moderation, serious)

    await page.goto(f"{moderation.url}/console/sign-in?lang=cy")
    await expect_language(page, "cy")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Mewngofnodi i gymedroli")
    await page.get_by_role("button", name="Mewngofnodi").click()
    await expect(page.locator("#token-error")).to_contain_text("Gludwch eich tocyn cymedrolwr")
    await axe_check(page)
    await save_screenshot(page, "welsh-console-sign-in")

    await page.get_by_label("Tocyn cymedrolwr").fill(moderating.moderator_token())
    await page.get_by_role("button", name="Mewngofnodi").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ciw cymedroli")
    await expect_language(page, "cy")
    row = page.locator("tbody tr").first
    await expect(row.locator(".badge--serious")).to_have_text("Diogelu difrifol")
    await expect(row).to_contain_text("hunanladdiad")
    await axe_check(page)
    await save_screenshot(page, "welsh-console-queue")
