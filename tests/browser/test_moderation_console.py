"""A moderator works the queue in a real browser: sign in, read, undo a redaction, approve.

moderation runs as a real process (fresh database and topic prefix, real Kafka);
stories arrive as story.submitted events with CloudEvents headers, as story-intake
sends them; axe-core scans every page; screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Page, expect

from candour_common.auth import Role, issue_token
from candour_common.cloudevents import Envelope
from candour_common.events import (
    AuthorContact,
    OrganisationRef,
    Relationship,
    ServiceRef,
    StorySubmitted,
    Tags,
)
from candour_common.topics import TopicNames
from tests.browser.conftest import axe_check, save_screenshot
from tests.conftest import free_port
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SECRET = "browser-moderation-secret-0123456789abcdef"
EMAIL_IN_STORY = "sam.t@example.org"


def submitted(title: str, body: str) -> StorySubmitted:
    return StorySubmitted(
        story_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
        title=title,
        body=body,
        organisation=OrganisationRef(id="TAD", name="Bradford District Care NHS Foundation Trust"),
        service=ServiceRef(id="TAD-CMHT", name="Community mental health team"),
        author=AuthorContact(
            display_name="Sam",
            relationship=Relationship.PATIENT,
            email="sam.private@example.org",
            notify_on_response=False,
        ),
        tags=Tags(good=["kindness"]),
    )


@pytest.fixture
async def moderation(
    create_database, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    port = free_port()
    process = ServiceProcess(
        name="moderation",
        port=port,
        env={
            "CANDOUR_DATABASE_URL": await create_database("moderation"),
            "CANDOUR_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "CANDOUR_TOPIC_PREFIX": topics.prefix,
            "CANDOUR_JWT_SECRET": SECRET,
            "CANDOUR_ENV": "dev",  # plain http on 127.0.0.1: cookies without Secure
            "CANDOUR_MODERATION_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "CANDOUR_OUTBOX_POLL_INTERVAL": "0.5",
        },
        log_path=tmp_path / "moderation.log",
    )
    process.start()
    try:
        await process.wait_ready()
        yield process
    finally:
        code = process.stop(signal.SIGTERM)
        print(f"----- moderation log (exit {code}) -----\n{process.logs()[-4000:]}")


async def send_submitted(bootstrap: str, topics: TopicNames, *stories: StorySubmitted) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for story in stories:
            headers = Envelope.new(story, service="story-intake").headers()
            await producer.send_and_wait(
                topics.name(story.topic),
                story.model_dump_json().encode(),
                key=str(story.story_id).encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
    finally:
        await producer.stop()


def moderator_token(subject: str = "mod-alice") -> str:
    return issue_token(SECRET, role=Role.MODERATOR, subject=subject)


async def api_story(service: ServiceProcess, story_id: uuid.UUID) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=service.url, timeout=5) as client:
        response = await client.get(
            f"/v1/queue/{story_id}",
            headers={"Authorization": f"Bearer {moderator_token('mod-check')}"},
        )
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found


async def wait_until_queued(service: ServiceProcess, *stories: StorySubmitted) -> None:
    wanted = {str(s.story_id) for s in stories}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    async with httpx.AsyncClient(base_url=service.url, timeout=5) as client:
        while True:
            response = await client.get(
                "/v1/queue",
                params={"limit": 100},
                headers={"Authorization": f"Bearer {moderator_token('mod-check')}"},
            )
            if wanted <= {item["story_id"] for item in response.json()["items"]}:
                return
            if loop.time() > deadline:
                raise AssertionError(f"stories never reached the queue: {response.text}")
            await asyncio.sleep(0.3)


async def test_a_moderator_undoes_one_suggestion_and_approves_with_a_criticality(
    moderation: ServiceProcess, kafka_bootstrap: str, topics: TopicNames, page: Page
) -> None:
    calm = submitted(
        "Dr Patel listened",
        f"Dr Patel listened to me and explained my medication. Email me at {EMAIL_IN_STORY}.",
    )
    serious = submitted("After discharge", "Since discharge I want to kill myself.")
    await send_submitted(kafka_bootstrap, topics, calm, serious)
    await wait_until_queued(moderation, calm, serious)

    await page.goto(f"{moderation.url}/console")
    await expect(page).to_have_url(f"{moderation.url}/console/sign-in")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to moderate")
    await axe_check(page)
    await save_screenshot(page, "console-sign-in")

    await page.get_by_label("Moderator token").fill(moderator_token())
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{moderation.url}/console")
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_have_attribute("data-story-id", str(serious.story_id))
    await expect(rows.first.locator(".badge--serious")).to_have_text("Serious safeguarding")
    await axe_check(page)
    await save_screenshot(page, "console-queue")

    await page.get_by_role("link", name="Dr Patel listened").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dr Patel listened")
    body_marks = page.locator("#original-body mark")
    await expect(body_marks.filter(has_text=EMAIL_IN_STORY)).to_have_count(1)
    await expect(body_marks.filter(has_text="Patel")).to_have_count(1)
    boxes = page.locator("input[name=redaction]")
    assert await boxes.count() >= 2
    for index in range(await boxes.count()):
        await expect(boxes.nth(index)).to_be_checked()
    await axe_check(page)
    await save_screenshot(page, "console-story")

    await page.get_by_label(re.compile(re.escape(EMAIL_IN_STORY))).uncheck()
    await page.get_by_role("button", name="Preview").click()
    published = page.locator("#published")
    await expect(published).to_contain_text(EMAIL_IN_STORY)
    await expect(published).not_to_contain_text("Patel")
    await expect(page.get_by_label(re.compile(re.escape(EMAIL_IN_STORY)))).not_to_be_checked()
    await save_screenshot(page, "console-story-preview")

    await page.get_by_label("3: moderately critical").check()
    await page.get_by_role("button", name="Approve and publish").click()
    await expect(page).to_have_url(f"{moderation.url}/console?done=approved")
    await expect(page.get_by_role("status")).to_contain_text("The story was approved")
    await expect(page.locator(f'tr[data-story-id="{calm.story_id}"]')).to_have_count(0)
    await expect(page.locator(f'tr[data-story-id="{serious.story_id}"]')).to_have_count(1)
    await axe_check(page)
    await save_screenshot(page, "console-queue-after-approval")

    decided = await api_story(moderation, calm.story_id)
    assert decided["status"] == "approved"
    [approval] = [a for a in decided["audit"] if a["action"] == "approved"]
    assert approval["actor"] == "mod-alice"
    assert approval["detail"]["criticality"] == 3
    assert EMAIL_IN_STORY in approval["detail"]["published"]["body"]
    assert "Patel" not in approval["detail"]["published"]["body"]


async def test_the_serious_story_page_and_a_refused_decision_pass_axe(
    moderation: ServiceProcess, kafka_bootstrap: str, topics: TopicNames, page: Page
) -> None:
    serious = submitted("After discharge", "Since discharge I want to kill myself.")
    await send_submitted(kafka_bootstrap, topics, serious)
    await wait_until_queued(moderation, serious)

    await page.goto(f"{moderation.url}/console/sign-in")
    await page.get_by_label("Moderator token").fill(moderator_token())
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="After discharge").click()
    await expect(page.locator("#safeguarding-title")).to_be_visible()
    await page.get_by_role("button", name="Claim this story").click()
    await expect(page.locator("#claim-status")).to_contain_text("You are working on this story")

    await page.get_by_label("5: severely critical").check()
    await page.get_by_role("button", name="Approve and publish").click()
    await expect(page.locator("#acknowledge_safeguarding-error")).to_be_visible()
    await axe_check(page)
    await save_screenshot(page, "console-story-serious-error")

    await page.get_by_label("Reason").select_option("safeguarding_escalated")
    await page.get_by_role("button", name="Reject").click()
    await expect(page).to_have_url(f"{moderation.url}/console?done=rejected")
    await expect(page.locator(f'tr[data-story-id="{serious.story_id}"]')).to_have_count(0)
    assert (await api_story(moderation, serious.story_id))["status"] == "rejected"
