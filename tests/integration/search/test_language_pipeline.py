"""A Welsh story's language from the share API to search, through Kafka (issue 20):
story-intake, moderation and search each with their own PostgreSQL database, talking only
through the topics, as they run in production (in one process here)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from candour_common.auth import Role, issue_token
from candour_common.topics import Topic, TopicNames
from candour_intake.bootstrap import create_app as intake_app
from candour_intake.settings import IntakeSettings
from candour_moderation.bootstrap import create_app as moderation_app
from candour_moderation.settings import ModerationSettings
from tests.infra import read_topic, serving
from tests.integration.intake.conftest import STORY, seed_intake_database
from tests.integration.search.conftest import eventually, running_search

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SECRET = "language-pipeline-secret-0123456789abcdef"
WELSH = {
    **STORY,
    "title": "Aros am y nyrsys",
    "body": "Bu'n rhaid i ni aros am oriau, ond roedd y nyrsys yn garedig iawn.",
    "language": "cy",
}


async def test_a_welsh_story_stays_welsh_from_the_share_api_to_search(
    create_database: Any, kafka_bootstrap: str, topics: TopicNames
) -> None:
    intake_database = await create_database("intake")
    await seed_intake_database(intake_database)
    intake_settings = IntakeSettings(
        database_url=intake_database,
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topics.prefix,
        outbox_poll_interval=0.2,
        jwt_secret=SECRET,
    )
    moderation = moderation_app(
        ModerationSettings(
            database_url=await create_database("moderation"),
            kafka_bootstrap=kafka_bootstrap,
            topic_prefix=topics.prefix,
            jwt_secret=SECRET,
            outbox_poll_interval=0.2,
            auto_approve=False,
        )
    )
    moderator = {
        "Authorization": f"Bearer {issue_token(SECRET, role=Role.MODERATOR, subject='mo')}"
    }
    async with (
        serving(intake_app(intake_settings)) as intake,
        serving(moderation) as moderation_client,
        running_search(await create_database("search"), kafka_bootstrap, topics) as search,
    ):
        assert isinstance(intake, httpx.AsyncClient)
        assert isinstance(moderation_client, httpx.AsyncClient)
        sent = await intake.post("/v1/stories", json=WELSH)
        assert sent.status_code == 201, sent.text
        story_id = sent.json()["story_id"]

        async def queued() -> dict[str, Any] | None:
            got = await moderation_client.get(f"/v1/queue/{story_id}", headers=moderator)
            return got.json() if got.status_code == 200 else None

        item = await eventually(queued)
        assert item["language"] == "cy"
        decided = await moderation_client.post(
            f"/v1/queue/{story_id}/decision",
            json={"decision": "approve", "criticality": 1},
            headers=moderator,
        )
        assert decided.status_code == 200, decided.text

        async def found() -> list[dict[str, Any]]:
            page = await search.search(q="aros", language="cy")
            return list(page["results"])

        [hit] = await eventually(found)
        assert hit["story_id"] == story_id and hit["language"] == "cy"
        story = await search.client.get(f"/v1/stories/{story_id}")
        assert story.json()["language"] == "cy"
        assert (await search.search(q="aros", language="en"))["total"] == 0

    approved = await read_topic(kafka_bootstrap, topics.name(Topic.STORY_APPROVED), at_least=1)
    assert [r.headers["ce_subject"] for r in approved] == [story_id]
    assert json.loads(approved[0].value)["language"] == "cy"
