"""Staff answer their organisation's stories in a real browser: the inbox, the story with
its earlier responses, a preview, publishing, and correcting a typo within the window.

story-intake and search run as real processes (fresh databases and topic prefix, real
Kafka); the stories are published by story.approved events on Kafka, as moderation
publishes them. axe-core scans every page; screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Page, expect

from candour_common.auth import Role, issue_token
from candour_common.cloudevents import Envelope
from candour_common.events import OrganisationRef, PublicAuthor, ServiceRef, StoryApproved
from candour_common.runtime import migrate_database
from candour_common.topics import TopicNames
from candour_intake.adapters import repository
from tests.browser.conftest import axe_check, save_screenshot
from tests.browser.test_journey import reload_until
from tests.conftest import free_port
from tests.integration.intake.conftest import STORY, TRUSTS
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SECRET = "staff-respond-secret-0123456789abcdef0123456789"
UNSUBSCRIBE_SECRET = "staff-respond-unsubscribe-0123456789abcdef012"
TAD = OrganisationRef(id="TAD", name="Bradford District Care NHS Foundation Trust")
CMHT = ServiceRef(id="TAD-CMHT", name="Community mental health team")


@pytest.fixture
async def intake_and_search(
    create_database, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> AsyncIterator[dict[str, ServiceProcess]]:
    names = ("story-intake", "search")
    databases = {name: await create_database(name.replace("-", "_")) for name in names}
    await migrate_database(databases["story-intake"], "candour_intake.migrations")
    conn = await asyncpg.connect(databases["story-intake"])
    try:
        for trust in TRUSTS:
            await repository.PostgresDirectory(conn).upsert(trust)
    finally:
        await conn.close()
    ports = {name: free_port() for name in names}
    common = {
        "CANDOUR_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CANDOUR_TOPIC_PREFIX": topics.prefix,
        "CANDOUR_JWT_SECRET": SECRET,
        "CANDOUR_UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET,
        "CANDOUR_ENV": "dev",  # plain http on 127.0.0.1: cookies without Secure
        "CANDOUR_OUTBOX_POLL_INTERVAL": "0.5",
        "CANDOUR_INTAKE_PUBLIC_URL": f"http://127.0.0.1:{ports['story-intake']}",
        "CANDOUR_SEARCH_PUBLIC_URL": f"http://127.0.0.1:{ports['search']}",
    }
    services = {
        name: ServiceProcess(
            name=name,
            port=ports[name],
            env={**common, "CANDOUR_DATABASE_URL": databases[name]},
            log_path=tmp_path / f"{name}.log",
        )
        for name in names
    }
    for service in services.values():
        service.start()
    try:
        await asyncio.gather(*(s.wait_ready() for s in services.values()))
        yield services
    finally:
        for service in services.values():
            service.stop(signal.SIGTERM)


async def publish_stories(
    intake: ServiceProcess, kafka_bootstrap: str, topics: TopicNames, titles: list[str]
) -> list[str]:
    """Share a story per title through intake's API, then approve each on Kafka (older
    first, so the last title is the newest)."""
    ids: list[str] = []
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with httpx.AsyncClient(base_url=intake.url, timeout=10) as client:
            for n, title in enumerate(titles):
                created = await client.post("/v1/stories", json=STORY)
                assert created.status_code == 201, created.text
                story_id = created.json()["story_id"]
                ids.append(story_id)
                event = StoryApproved(
                    story_id=uuid.UUID(story_id),
                    published_at=datetime.now(UTC) - timedelta(hours=len(titles) - n),
                    title=title,
                    body=f"{title}. The crisis line rang back the same day.\nI felt heard.",
                    organisation=TAD,
                    service=CMHT,
                    author=PublicAuthor(display_name="A patient", relationship="patient"),
                    criticality=3,
                )
                headers = Envelope.new(event, service="moderation").headers()
                await producer.send_and_wait(
                    topics.name(event.topic),
                    event.model_dump_json().encode(),
                    key=event.kafka_key().encode(),
                    headers=[(k, v.encode()) for k, v in headers.items()],
                )
    finally:
        await producer.stop()
    return ids


async def test_inbox_story_preview_publish_and_correct(
    intake_and_search: dict[str, ServiceProcess],
    page: Page,
    kafka_bootstrap: str,
    topics: TopicNames,
) -> None:
    intake, search = intake_and_search["story-intake"], intake_and_search["search"]
    marker = f"harbour{uuid.uuid4().hex[:6]}"
    older, newer = f"Older story {marker}", f"Newer story {marker}"
    await publish_stories(intake, kafka_bootstrap, topics, [older, newer])

    # 1. Sign in: the inbox lists the trust's published stories, unanswered first.
    await page.goto(f"{intake.url}/respond")
    await page.get_by_label("Staff token").fill(
        issue_token(SECRET, role=Role.STAFF, subject="sam@tad", organisation_id="TAD")
    )
    await page.get_by_role("button", name="Sign in").click()
    await reload_until(page, f"{intake.url}/respond", older)
    await expect(page.get_by_role("heading", level=1)).to_contain_text(TAD.name)
    links = page.locator(".inbox__item h3 a")
    await expect(links).to_have_text([newer, older])
    await axe_check(page)
    await save_screenshot(page, "staff-1-inbox")

    # 2. Open the older story: its published text, no responses yet.
    await page.get_by_role("link", name=older).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Respond to a story")
    await expect(page.locator("#story-title")).to_have_text(older)
    await expect(page.locator("article.story")).to_contain_text("rang back the same day")
    await expect(page.get_by_text("Nobody has responded to this story yet.")).to_be_visible()
    await axe_check(page)

    # 3. A mistake is caught with a clear error; then a preview before publishing.
    await page.get_by_role("button", name="Preview your response").click()
    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("Write your response")
    await axe_check(page)
    await page.get_by_label("Your response").fill("Thank you, we have shraed this with the team.")
    await page.get_by_label("Your name").fill("Sam Jones")
    await page.get_by_label("Your role").fill("Service manager")
    await page.get_by_label("We are planning a change").check()
    await page.get_by_role("button", name="Preview your response").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Check your response before it is published"
    )
    await expect(page.locator(".response--preview")).to_contain_text("shraed")
    await axe_check(page)
    await save_screenshot(page, "staff-2-preview")
    await page.get_by_role("button", name="Publish response").click()
    await expect(page.get_by_role("status")).to_contain_text("Your response has been published.")
    await expect(page.locator(".responses")).to_contain_text("shraed")
    await axe_check(page)
    await save_screenshot(page, "staff-3-published")

    # 4. The typo is corrected within the window, previewed, and published as version 2.
    await page.get_by_role("link", name="Change your response").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Change your response")
    await page.get_by_label("Your response").fill("Thank you, we have shared this with the team.")
    await page.get_by_role("button", name="Preview the change").click()
    await expect(page.locator(".response--preview")).to_contain_text("shared this")
    await axe_check(page)
    await page.get_by_role("button", name="Publish the change").click()
    await expect(page.get_by_role("status")).to_contain_text("Your response has been changed.")
    await expect(page.locator(".responses")).to_contain_text("shared this with the team")
    await expect(page.locator(".responses")).not_to_contain_text("shraed")
    await save_screenshot(page, "staff-4-corrected")

    # 5. Back in the inbox the answered story comes after the unanswered one.
    await page.get_by_role("link", name="Back to stories to answer").click()
    await expect(links).to_have_text([newer, older])
    await page.get_by_label("Answered").select_option("yes")
    await page.get_by_role("button", name="Show stories").click()
    await expect(links).to_have_text([older])
    await axe_check(page)

    # 6. The public story page shows the corrected response, once.
    story_id = (await page.locator(".inbox__item").get_attribute("data-story-id")) or ""
    await reload_until(page, f"{search.url}/stories/{story_id}", "shared this with the team")
    assert "shraed" not in await page.content()
    await expect(page.locator("#responses li")).to_have_count(1)
    await save_screenshot(page, "staff-5-public")
