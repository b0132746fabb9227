"""Screening once (issue 18), on real PostgreSQL and Kafka: a story submitted over
intake's API reaches moderation's queue with intake's screening, and moderation does not
screen it again (its audit trail and its counter say who screened); an author's edit
likewise; a story.submitted carrying no screening (the bulk import's kind) is screened by
moderation, safeguarding included."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from candour_common.events import StorySubmitted
from candour_common.topics import Topic, TopicNames
from candour_intake.bootstrap import create_app as create_intake
from candour_intake.settings import IntakeSettings
from candour_moderation.bootstrap import create_app as create_moderation
from candour_screening import screener_version
from tests.infra import admin_get, read_topic, serving
from tests.integration.intake.conftest import STORY, seed_intake_database
from tests.integration.intake.test_lifecycle import bearer as author
from tests.integration.moderation.test_moderation import (
    ALICE,
    SECRET,
    eventually,
    publish,
    settings_for,
    story,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SERIOUS = "Dr Patel was kind, but since discharge I want to kill myself."
EDITED = "Dr Patel rang me on 07700 900123. Since discharge I want to kill myself."


async def queue_item(client: httpx.AsyncClient, story_id: str) -> dict[str, Any] | None:
    response = await client.get(f"/v1/queue/{story_id}", headers=ALICE)
    return response.json() if response.status_code == 200 else None


async def screened_count(app: Any) -> dict[str, float]:
    scrape = (await admin_get(app, "/metrics")).text
    found = re.findall(
        r'^candour_moderation_stories_screened_total\{screened_by="([^"]+)"\} (\S+)$',
        scrape,
        re.MULTILINE,
    )
    return {by: float(value) for by, value in found}


def provenance(item: dict[str, Any], action: str) -> list[tuple[str, str | None]]:
    return [
        (a["detail"]["screened_by"], a["detail"]["screener"])
        for a in item["audit"]
        if a["action"] == action
    ]


async def test_a_story_sent_over_http_is_screened_by_intake_only(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    intake_url = await create_database("intake")
    await seed_intake_database(intake_url)
    intake_settings = IntakeSettings(
        database_url=intake_url,  # type: ignore[arg-type]
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topics.prefix,
        outbox_poll_interval=0.2,
        jwt_secret=SECRET,  # type: ignore[arg-type]
    )
    moderation_settings = await settings_for(create_database, kafka_bootstrap, topics)
    ours = screener_version()
    moderation_app = create_moderation(moderation_settings)
    async with (
        serving(create_intake(intake_settings)) as intake,
        serving(moderation_app) as moderation,
    ):
        assert isinstance(intake, httpx.AsyncClient)
        assert isinstance(moderation, httpx.AsyncClient)
        created = await intake.post("/v1/stories", json={**STORY, "body": SERIOUS})
        assert created.status_code == 201, created.text
        story_id, token = created.json()["story_id"], created.json()["author_token"]

        # On the topic: the story with intake's screening of it.
        [record] = await read_topic(kafka_bootstrap, topics.name(Topic.STORY_SUBMITTED), at_least=1)
        assert record.value is not None
        sent = StorySubmitted.model_validate_json(record.value)
        assert sent.screening is not None
        assert sent.screening.screener == ours
        assert sent.screening.safeguarding.level == "serious"

        item = await eventually(lambda: queue_item(moderation, story_id), "the story queued")
        assert item["screening"]["safeguarding"]["level"] == "serious"
        assert {r["text"] for r in item["screening"]["redactions"]} == {"Patel"}
        assert provenance(item, "received") == [("story-intake", ours)]
        assert await screened_count(moderation_app) == {"moderation": 0.0, "story-intake": 1.0}
        # Safeguarding escalated at once, from intake's screening.
        assert [a["action"] for a in item["audit"]].count("safeguarding_raised") == 1

        # The author's edit: screened once, by intake, with the author's name.
        edit = {
            "title": STORY["title"],
            "body": EDITED,
            "organisation_id": "TAD",
            "service_id": "TAD-CMHT",
        }
        edited = await intake.put(f"/v1/stories/{story_id}", json=edit, headers=author(token))
        assert edited.status_code == 202, edited.text

        async def second_version() -> dict[str, Any] | None:
            found = await queue_item(moderation, story_id)
            return found if found and found["version"] == 2 else None

        item = await eventually(second_version, "the edit in moderation")
        assert {r["kind"] for r in item["screening"]["redactions"]} == {"person_name", "phone"}
        assert provenance(item, "resubmitted") == [("story-intake", ours)]
        assert await screened_count(moderation_app) == {"moderation": 0.0, "story-intake": 2.0}

        # A story carrying no screening (as a bulk import sends it): moderation screens it.
        bulk = story("Since discharge I want to kill myself.")
        await publish(kafka_bootstrap, topics, bulk)
        item = await eventually(
            lambda: queue_item(moderation, str(bulk.story_id)), "the imported story queued"
        )
        assert item["screening"]["safeguarding"]["level"] == "serious"
        assert provenance(item, "received") == [("moderation", ours)]
        assert await screened_count(moderation_app) == {"moderation": 1.0, "story-intake": 2.0}
