"""Open data and the deep dive in a real browser: "Who listens", feeds linked from the
pages, and a programme's themes; axe-core scans each page."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Page, expect

from candour_common.events import ServiceRef
from candour_common.topics import TopicNames
from tests.browser.conftest import axe_check, save_screenshot
from tests.browser.test_search_pages import publish, search  # noqa: F401 - the fixture
from tests.data.themes.corpus import generate
from tests.integration.search.conftest import ORG_A, ORG_B, approved, eventually, response
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PROGRAMME = "mental-health"
COMMUNITY = ServiceRef(id="RXA-CMHT", name="Community mental health", programme=PROGRAMME)


async def test_who_listens_and_the_deep_dive(
    search: ServiceProcess,  # noqa: F811
    kafka_bootstrap: str,
    topics: TopicNames,
    page: Page,
) -> None:
    now = datetime.now(UTC)
    stories = [
        approved(
            title=f"Entry {i}",
            body=entry.text,
            service=COMMUNITY,
            criticality=4 if i % 3 == 0 else 1,
            published_at=now - timedelta(days=60 - i),
        )
        for i, entry in enumerate(generate(60, seed=3))
    ]
    elsewhere = approved(title="Nurses at home", organisation=ORG_B, service=None, published_at=now)
    answers = [response(s, posted_at=s.published_at + timedelta(hours=3)) for s in stories[::2]]
    await publish(kafka_bootstrap, topics, [*stories, elsewhere, *answers])

    async with httpx.AsyncClient(base_url=search.url, timeout=5) as client:

        async def indexed() -> bool:
            # Every story and every answer: they travel on different partitions.
            everything = (await client.get("/v1/search")).json()
            body = (await client.get("/v1/search", params={"responded": "true"})).json()
            return everything["total"] == len(stories) + 1 and body["total"] == len(answers)

        await eventually(indexed, within=90)

    await page.goto(f"{search.url}/who-listens")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Who listens")
    await expect(page.locator("tr.organisation-rate")).to_have_count(2)
    await expect(page.locator("svg#rate-chart circle")).to_have_count(2)
    await axe_check(page)
    await save_screenshot(page, "who-listens")
    await page.get_by_role("link", name="Stories", exact=True).click()
    await expect(page.locator("tr.organisation-rate").first).to_contain_text(ORG_A.name)

    await page.goto(f"{search.url}/organisations/{ORG_A.id}")
    feed = page.locator("#feeds a").first
    await expect(feed).to_have_attribute(
        "href", f"/v1/feeds/stories.atom?organisation_id={ORG_A.id}"
    )
    # The story map: 60 stories of the last year, 20 of them "strongly critical" (every
    # third), 30 answered (every second); by criticality first, then by progress.
    dots = page.locator("svg#story-map-chart a circle")
    await expect(dots).to_have_count(60)
    await expect(page.locator("svg#story-map-chart circle.dot--crit-4")).to_have_count(20)
    await expect(page.locator("svg#story-map-chart circle.dot--crit-1")).to_have_count(40)
    await expect(page.locator("#story-map-table tbody tr")).to_have_count(60)
    await expect(page.locator("#story-map-caption")).to_contain_text(
        "Each dot is one of the 60 stories published about"
    )
    await axe_check(page)
    await page.get_by_role("link", name="progress", exact=True).click()
    await expect(page.locator("svg#story-map-chart circle.dot--responded")).to_have_count(30)
    await expect(page.locator("svg#story-map-chart circle.dot--published")).to_have_count(30)
    await expect(page.locator(".map-legend")).to_contain_text("Responded (30)")
    await axe_check(page)
    await save_screenshot(page, "story-map")
    await page.locator("svg#story-map-chart a").first.click()
    await expect(page.locator("#story-progress")).to_be_visible()
    await page.goto(f"{search.url}/organisations/{ORG_A.id}")

    env = {**os.environ, **search.env}
    rebuild = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "candour_cli", "insight", "themes", "rebuild"),
        *("--programme", PROGRAMME, "--count", "4"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(rebuild.communicate(), 120)
    assert rebuild.returncode == 0, err.decode()
    assert "4 themes from 60 entries" in err.decode()
    await page.goto(f"{search.url}/insight/{PROGRAMME}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Deep dive: mental health")
    await expect(page.locator("tr.theme-row")).to_have_count(4)
    await expect(page.locator("#themes-table svg polyline")).to_have_count(4)
    await axe_check(page)
    await save_screenshot(page, "deep-dive")
