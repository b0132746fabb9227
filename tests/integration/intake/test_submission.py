"""story-intake against real PostgreSQL and Kafka: one story, one event, the right envelope."""

import json
import uuid

import asyncpg
import pytest

from candour_common.topics import Topic, TopicNames
from candour_intake.bootstrap import create_app
from candour_intake.settings import IntakeSettings
from tests.infra import read_topic, serving
from tests.integration.intake.conftest import SECRET, STORY, seed_intake_database

pytestmark = pytest.mark.integration


async def _intake(create_database, kafka_bootstrap: str, topics: TopicNames) -> IntakeSettings:
    url = await create_database("intake")
    await seed_intake_database(url)
    return IntakeSettings(
        database_url=url,
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topics.prefix,
        outbox_poll_interval=0.2,
        jwt_secret=SECRET,
    )


async def test_a_story_becomes_exactly_one_story_submitted_event(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await _intake(create_database, kafka_bootstrap, topics)
    async with serving(create_app(settings)) as client:
        response = await client.post("/v1/stories", json=STORY)
        assert response.status_code == 201, response.text
        created = response.json()
        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.STORY_SUBMITTED), at_least=1, settle=1.0
        )
    story_id = created["story_id"]
    assert created["status"] == "submitted" and len(created["author_token"]) >= 32
    assert len(records) == 1
    record = records[0]
    assert record.key == story_id.encode()
    assert record.headers["ce_type"] == "org.candour.story.submitted.v1"
    assert record.headers["ce_source"] == "/candour/story-intake"
    assert record.headers["ce_subject"] == story_id
    assert record.headers["ce_specversion"] == "1.0"
    assert record.headers["content-type"] == "application/json"
    uuid.UUID(record.headers["ce_id"])
    data = json.loads(record.value)
    assert data["title"] == STORY["title"]
    assert data["organisation"] == {
        "id": "TAD",
        "name": "Bradford District Care NHS Foundation Trust",
    }
    assert data["service"] == {
        "id": "TAD-CMHT",
        "name": "Community mental health team",
        "programme": None,
    }
    # The author's contact travels only on this internal topic.
    assert data["author"]["email"] == "author@example.org"


async def test_the_token_is_stored_only_as_a_hash(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await _intake(create_database, kafka_bootstrap, topics)
    async with serving(create_app(settings)) as client:
        created = (await client.post("/v1/stories", json=STORY)).json()
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        row = await conn.fetchrow(
            "SELECT * FROM stories WHERE id = $1", uuid.UUID(created["story_id"])
        )
    finally:
        await conn.close()
    assert row is not None
    assert created["author_token"].encode() not in bytes(row["author_token_hash"])
    assert created["author_token"] not in json.dumps({k: str(v) for k, v in row.items()})


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"organisation_id": "NOPE"}, 422, "body.organisation_id"),
        ({"service_id": "OTHER"}, 422, "body.service_id"),
        ({"title": "x" * 121}, 422, "body.title"),
        ({"surprise": 1}, 422, "body.surprise"),
        (
            {"author": {"display_name": "A", "relationship": "alien"}},
            422,
            "body.author.relationship",
        ),
        ({"body": "word " * 1001}, 422, "body.body"),
        ({"experienced_at": "2999-01"}, 422, "body.experienced_at"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(
    create_database, kafka_bootstrap: str, topics: TopicNames, change: dict, status: int, field: str
) -> None:
    settings = await _intake(create_database, kafka_bootstrap, topics)
    async with serving(create_app(settings)) as client:
        response = await client.post("/v1/stories", json={**STORY, **change})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        assert await conn.fetchval("SELECT count(*) FROM stories") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await conn.close()


async def test_malformed_json_is_400(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await _intake(create_database, kafka_bootstrap, topics)
    async with serving(create_app(settings)) as client:
        response = await client.post(
            "/v1/stories", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
