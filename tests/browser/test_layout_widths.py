"""Every page people use fits a 390 px phone and a 1280 px desktop: no sideways
scrolling, axe-core still clean, a full-page screenshot of each kept under
test-artifacts/screenshots/layout-<width>-<page>.png (the directory CI keeps).

The four services start once and the pages are visited at both widths in one test
(starting the platform per width would double the slowest part; the browser is the
session's one Chromium). Every failing page and width is listed, not only the first.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.async_api import Page, expect

from candour_common.auth import Role, issue_token
from tests.browser.conftest import axe_check, save_screenshot
from tests.browser.test_journey import SECRET, platform, reload_until
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(480)]

__all__ = ["platform"]  # the four services, started as for the journey test

WIDTHS = {"phone": (390, 844), "desktop": (1280, 800)}


async def _sideways_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when it fits)."""
    overflow: int = await page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )
    return overflow


async def _share(page: Page, intake: ServiceProcess, title: str, body: str) -> str:
    await page.goto(f"{intake.url}/share")
    await page.select_option("#place", "TAD|TAD-CMHT")
    await page.fill("#title", title)
    await page.fill("#body", body)
    await page.fill("#display_name", "A patient")
    await page.check("#relationship")
    await page.fill("#experienced_at", "2025-03")
    await page.get_by_role("button", name="Send my story").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("your story has been sent")
    return await page.locator("#story-reference").input_value()


async def _sign_in(page: Page, url: str, role: Role) -> None:
    await page.goto(url)
    token = issue_token(SECRET, role=role, subject="layout", organisation_id="TAD")
    await page.locator("#token").fill(token)
    await page.get_by_role("button", name="Sign in").click()


async def test_every_page_fits_a_phone_and_a_desktop(
    platform: dict[str, ServiceProcess], page: Page
) -> None:
    intake, moderation, notifications, search = (
        platform["story-intake"],
        platform["moderation"],
        platform["notifications"],
        platform["search"],
    )
    marker = f"harbour{uuid.uuid4().hex[:6]}"
    published_title = f"Kind words at the {marker} clinic"
    waiting_title = f"Still waiting at the {marker} ward"

    published_id = await _share(
        page,
        intake,
        published_title,
        f"The staff at the {marker} clinic were kind and explained everything twice. "
        "Averyveryveryverylongwordwithoutanyspacesthatmustwrapratherthanwidenthepage.",
    )
    share_done_url = page.url
    waiting_id = await _share(
        page, intake, waiting_title, f"I waited six hours at the {marker} ward for a bed."
    )

    await _sign_in(page, f"{moderation.url}/console/sign-in", Role.MODERATOR)
    await reload_until(page, f"{moderation.url}/console", published_title)
    await page.goto(f"{moderation.url}/console/stories/{published_id}")
    await page.get_by_label("2: mildly critical").check()
    await page.get_by_role("button", name="Approve and publish").click()
    await expect(page.get_by_role("status")).to_contain_text("The story was approved")
    await reload_until(page, f"{search.url}/stories/{published_id}", published_title)

    # A subscription, so the alerts page has its table (it scrolled sideways on a phone).
    await _sign_in(page, f"{notifications.url}/alerts/sign-in", Role.STAFF)
    await page.fill("#email", f"patient-experience-{marker}@bradford-district-care.example")
    await page.get_by_role("button", name="Add subscription").click()
    await expect(page.locator("tr[data-subscription-id]")).to_have_count(1)

    # The session cookie belongs to 127.0.0.1 whatever the port: sign in before each
    # service's staff pages.
    groups: list[tuple[str | None, Role | None, dict[str, str]]] = [
        (
            f"{intake.url}/respond/sign-in",
            Role.STAFF,
            {
                "intake-home": f"{intake.url}/",
                "share": f"{intake.url}/share",
                "share-sent": share_done_url,
                "follow": f"{intake.url}/follow",
                "staff-inbox": f"{intake.url}/respond",
                "staff-respond": f"{intake.url}/respond/{published_id}",
            },
        ),
        (
            f"{moderation.url}/console/sign-in",
            Role.MODERATOR,
            {
                "moderation-home": f"{moderation.url}/",
                "console-queue": f"{moderation.url}/console",
                "console-review": f"{moderation.url}/console/stories/{waiting_id}",
            },
        ),
        (
            f"{notifications.url}/alerts/sign-in",
            Role.STAFF,
            {
                "notifications-home": f"{notifications.url}/",
                "alerts": f"{notifications.url}/alerts",
            },
        ),
        (
            None,
            None,
            {
                "search-home": f"{search.url}/",
                "search-results": f"{search.url}/search?q={marker}",
                "story": f"{search.url}/stories/{published_id}",
                "organisations": f"{search.url}/organisations",
                "organisation": f"{search.url}/organisations/TAD",
                "who-listens": f"{search.url}/who-listens",
                "deep-dive": f"{search.url}/insight/mental-health",
            },
        ),
    ]
    problems: list[str] = []
    for width_name, (width, height) in WIDTHS.items():
        await page.set_viewport_size({"width": width, "height": height})
        for sign_in_url, role, pages in groups:
            if sign_in_url and role:
                await _sign_in(page, sign_in_url, role)
            for name, url in pages.items():
                response = await page.goto(url)
                assert response is not None
                if response.status >= 400:
                    problems.append(f"{width}px {name}: HTTP {response.status} at {url}")
                heading = await page.get_by_role("heading", level=1).first.inner_text()
                if heading.startswith("Sign in"):
                    problems.append(f"{width}px {name}: shows the sign-in page")
                overflow = await _sideways_overflow(page)
                if overflow > 0:
                    problems.append(f"{width}px {name}: {overflow}px wider than the screen")
                await axe_check(page)
                await save_screenshot(page, f"layout-{width_name}-{width}-{name}")
    assert not problems, "\n".join(problems)

    # On a phone the results come before the filters, which wait behind a toggle.
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"{search.url}/search?q={marker}")
    results = await page.locator("#results-heading").bounding_box()
    toggle = await page.locator("#filters > summary").bounding_box()
    assert results is not None and toggle is not None
    assert results["y"] < toggle["y"], "the filters come before the results on a phone"
    await expect(page.locator("#organisation_id")).to_be_hidden()
    await page.locator("#filters > summary").click()
    await expect(page.locator("#organisation_id")).to_be_visible()

    # Radios are the NHS.UK's 40 px targets, not 13 px browser defaults.
    await page.goto(f"{intake.url}/share")
    for choice in ("#relationship", "#notify_on_response"):
        box = await page.locator(choice).bounding_box()
        assert box is not None and box["width"] >= 40 and box["height"] >= 40, (choice, box)

    # The queue's table stacks its rows: each cell shows its column heading.
    await _sign_in(page, f"{moderation.url}/console/sign-in", Role.MODERATOR)
    await page.goto(f"{moderation.url}/console")
    row = page.locator(f"tr[data-story-id='{waiting_id}']")
    await expect(row.locator(".nhsuk-table__heading").first).to_be_visible()

    # Dates in words and times on the UK clock, on the console too.
    await expect(row).to_contain_text(re.compile(r"\d:\d\d[ap]m (GMT|BST)"))
    await page.goto(f"{search.url}/stories/{published_id}")
    await expect(page.locator("main")).to_contain_text("experienced March 2025")
