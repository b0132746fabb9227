"""Whose voices are missing, in a real browser: a person answers the optional "about
you" questions on the share page; a commissioner reads the mix of voices beside the
population on the deep dive. axe-core scans each page."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Page, expect

from candour_cli import demo
from candour_common.about_you import Characteristic
from candour_common.cloudevents import Envelope
from candour_common.events import CategoryCount, CharacteristicMix, VoicesSummarised
from candour_common.topics import TopicNames
from tests.browser.conftest import axe_check, save_screenshot
from tests.browser.test_share_story import fill_share_form, intake  # noqa: F401 - the fixture
from tests.conftest import free_port
from tests.integration.search.conftest import eventually
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PROGRAMME = "mental-health"


async def test_a_person_answers_about_themselves_on_the_share_page(
    intake: ServiceProcess,  # noqa: F811
    page: Page,
) -> None:
    await page.goto(f"{intake.url}/share")
    about = page.locator("fieldset#about-you")
    await expect(about.locator("legend")).to_contain_text("About you")
    await expect(about).to_contain_text("never published or shown to anyone")
    await fill_share_form(page)
    await page.get_by_label("Your age").select_option(label="35 to 44")
    await page.get_by_label("Your sex").select_option(label="Prefer not to say")
    await page.get_by_label("Your ethnic group").select_option(label="Caribbean")
    await axe_check(page)
    await save_screenshot(page, "share-about-you")
    await page.get_by_role("button", name="Send my story").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Thank you, your story has been sent"
    )
    conn = await asyncpg.connect(intake.env["CANDOUR_DATABASE_URL"])
    try:
        row = await conn.fetchrow("SELECT age_band, sex, ethnic_group, disability FROM about_you")
    finally:
        await conn.close()
    assert row is not None and dict(row) == {
        "age_band": "35_44",
        "sex": "prefer_not_to_say",
        "ethnic_group": "black_caribbean",
        "disability": None,
    }


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
            "CANDOUR_POPULATION_FILE": demo.population_csv_path(),
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


SUMMARY = VoicesSummarised(
    programme=PROGRAMME,
    summarised_at=datetime(2025, 3, 5, 2, 0, tzinfo=UTC),
    characteristics=[
        CharacteristicMix(
            characteristic=Characteristic.ETHNIC_GROUP,
            answered=31,
            prefer_not_to_say=None,
            categories=[
                CategoryCount(category="asian", count=5),
                CategoryCount(category="black", count=None),
                CategoryCount(category="mixed", count=None),
                CategoryCount(category="white", count=24),
                CategoryCount(category="other", count=None),
            ],
        ),
        CharacteristicMix(
            characteristic=Characteristic.DISABILITY,
            answered=31,
            prefer_not_to_say=None,
            categories=[
                CategoryCount(category="yes", count=10),
                CategoryCount(category="no", count=21),
            ],
        ),
    ],
)


async def test_a_commissioner_sees_whose_voices_are_missing(
    search: ServiceProcess, kafka_bootstrap: str, topics: TopicNames, page: Page
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.name(SUMMARY.topic),
            value=SUMMARY.model_dump_json().encode(),
            key=SUMMARY.kafka_key().encode(),
            headers=[
                (k, v.encode()) for k, v in Envelope.new(SUMMARY, service="test").headers().items()
            ],
        )
    finally:
        await producer.stop()

    async def shown() -> bool:
        await page.goto(f"{search.url}/insight/{PROGRAMME}")
        return "Asian, Asian British or Asian Welsh" in await page.locator("#voices").inner_text()

    await eventually(shown, within=60)
    await expect(page.locator("#voices-sentence")).to_have_text(
        "Compared with the population of Bradford, these groups are under-represented: "
        "ethnic group: Asian, Asian British or Asian Welsh."
    )
    table = page.locator("table#voices-ethnic_group")
    await expect(table.locator("tbody tr")).to_have_count(5)
    await expect(table.get_by_role("row", name="Black, Black British")).to_contain_text(
        "fewer than 5"
    )
    await expect(page.locator("#voices-rule")).to_contain_text("four-fifths")
    await axe_check(page)
    await save_screenshot(page, "deep-dive-voices")
    await page.locator("#voices").get_by_role("link", name="England").click()
    await expect(page.locator("#voices-sentence")).to_have_text(
        "No group is under-represented compared with the population of England."
    )
    await axe_check(page)
