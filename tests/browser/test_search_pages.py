"""A reader finds a story in a real browser: home, search, the story with its response,
the organisation's statistics.

search runs as a real process (fresh database and topic prefix, real Kafka); the
stories arrive as story.approved/response.posted events; chromium drives the pages;
axe-core scans every page; screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Page, expect

from candour_common.cloudevents import Envelope
from candour_common.events import Event, Tags
from candour_common.topics import TopicNames
from tests.browser.conftest import axe_check, save_screenshot
from tests.conftest import free_port
from tests.integration.search.conftest import (
    BASE_TIME,
    EMERGENCY,
    ORG_A,
    ORG_B,
    approved,
    response,
)
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

STORY = approved(
    title="The midwife stayed with us",
    body="Our midwife stayed past the end of her shift so we were never alone. "
    "Her calm voice made all the difference.",
    tags=Tags(good=["kindness"], feelings=["reassured"]),
    criticality=0,
    published_at=BASE_TIME,
)
ANSWER = response(
    STORY,
    body="Thank you. We have shared your words with the whole team.",
    change="made",
    posted_at=BASE_TIME + timedelta(hours=6),
)
OTHERS = [
    approved(
        title="Waiting in the emergency department",
        body="We waited nine hours on a trolley without any news.",
        service=EMERGENCY,
        tags=Tags(improve=["waiting times"]),
        criticality=3,
        published_at=BASE_TIME + timedelta(days=35),
    ),
    approved(
        title="District nurses at home",
        body="The nurses came every morning and were always on time.",
        organisation=ORG_B,
        service=None,
        criticality=0,
        published_at=BASE_TIME + timedelta(days=3),
    ),
]


@pytest.fixture
async def search(
    create_database, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    port = free_port()
    process = ServiceProcess(
        name="search",
        port=port,
        env={
            "CANDOUR_DATABASE_URL": await create_database("search"),
            "CANDOUR_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "CANDOUR_TOPIC_PREFIX": topics.prefix,
            "CANDOUR_SEARCH_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "CANDOUR_JWT_SECRET": "browser-search-secret-0123456789abcdef0123",
        },
        log_path=tmp_path / "search.log",
    )
    process.start()
    try:
        await process.wait_ready()
        yield process
    finally:
        code = process.stop(signal.SIGTERM)
        print(f"----- search log (exit {code}) -----\n{process.logs()[-4000:]}")


async def publish(kafka_bootstrap: str, topics: TopicNames, events: list[Event]) -> None:
    """As story-intake and moderation publish: CloudEvents headers, key = story id."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                topics.name(event.topic),
                value=event.model_dump_json().encode(),
                key=str(event.story_id).encode(),
                headers=[
                    (k, v.encode())
                    for k, v in Envelope.new(event, service="test").headers().items()
                ],
            )
    finally:
        await producer.stop()


async def wait_indexed(search: ServiceProcess, stories: int, within: float = 60) -> None:
    """Until search has every story and the response (polling its API, with a deadline)."""
    deadline = asyncio.get_running_loop().time() + within
    async with httpx.AsyncClient(base_url=search.url, timeout=5) as client:
        while True:
            everything = (await client.get("/v1/search")).json()
            answered = (await client.get("/v1/search", params={"responded": "true"})).json()
            if everything["total"] == stories and answered["total"] == 1:
                return
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"not indexed within {within}s: {everything['total']} stories")
            await asyncio.sleep(0.3)


async def test_a_reader_searches_and_reads_a_story_and_its_organisation(
    search: ServiceProcess, kafka_bootstrap: str, topics: TopicNames, page: Page
) -> None:
    await publish(kafka_bootstrap, topics, [STORY, *OTHERS, ANSWER])
    await wait_indexed(search, stories=1 + len(OTHERS))

    await page.goto(f"{search.url}/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Read and search stories")
    await expect(page.locator(".story-summary")).to_have_count(3)
    await axe_check(page)
    await save_screenshot(page, "search-home")

    await page.get_by_label("Search all stories").fill("midwife")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("heading", level=2, name="1 story matching")).to_be_visible()
    snippet = page.locator(".story-summary .snippet").first
    await expect(snippet.locator("mark").first).to_have_text("midwife", ignore_case=True)
    await axe_check(page)
    await save_screenshot(page, "search-results")

    # The filters are a plain GET form: narrowing to one organisation keeps the words.
    await page.get_by_label("Organisation").select_option(ORG_A.id)
    await page.locator("#search-form").get_by_role("button", name="Search").click()
    await expect(page).to_have_url(re.compile(rf"/search\?q=midwife&organisation_id={ORG_A.id}&"))
    await expect(page.locator(".story-summary")).to_have_count(1)

    await page.get_by_role("link", name=STORY.title).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(STORY.title)
    await expect(page.locator(".response")).to_have_count(1)
    await expect(page.locator(".response")).to_contain_text(ANSWER.body)
    await expect(page.locator(".change-marker")).to_have_text("Change made")
    await expect(page.locator("#story-criticality")).to_contain_text("not critical")
    await axe_check(page)
    await save_screenshot(page, "search-story")

    await page.locator("article").get_by_role("link", name=ORG_A.name).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(ORG_A.name)
    await expect(page.locator("#figure-stories")).to_have_text("2")
    await expect(page.locator("#figure-response-rate")).to_contain_text("50%")
    await expect(page.locator("#figure-median")).to_have_text("6 hours")
    await expect(page.locator("svg#chart-stories rect")).to_have_count(2)  # June, July
    await expect(page.locator("#monthly-figures tbody tr")).to_have_count(2)
    await axe_check(page)
    await save_screenshot(page, "search-organisation")


async def test_bad_links_get_readable_pages(search: ServiceProcess, page: Page) -> None:
    await page.goto(f"{search.url}/search?min_criticality=9")
    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("Choose a criticality")
    await axe_check(page)
    await save_screenshot(page, "search-invalid")

    await page.goto(f"{search.url}/stories/00000000-0000-0000-0000-000000000000")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Story not found")
    await axe_check(page)
    await save_screenshot(page, "search-story-not-found")
