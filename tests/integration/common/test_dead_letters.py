"""Poison messages land in the DLQ with their story, the consumer moves on, replay works."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer

from candour_common.cloudevents import Envelope
from candour_common.dlq import read_dead_letters, replay_dead_letters
from candour_common.events import OrganisationRef, PublicAuthor, StoryApproved
from candour_common.topics import Topic, TopicNames
from candour_search.bootstrap import create_app
from candour_search.settings import SearchSettings
from tests.infra import admin_get, read_topic, serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def story(title: str = "A good day") -> StoryApproved:
    return StoryApproved(
        story_id=uuid.uuid4(),
        published_at=datetime.now(UTC),
        title=title,
        body="Everyone was kind.",
        organisation=OrganisationRef(id="TAD", name="Bradford District Care"),
        author=PublicAuthor(display_name="A carer", relationship="carer"),
        criticality=1,
    )


async def test_poison_messages_are_dead_lettered_and_the_consumer_keeps_going(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = SearchSettings(
        database_url=await create_database("search"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topics.prefix,
        jwt_secret="dead-letter-tests-secret-0123456789abcdef",
    )
    topic = topics.name(Topic.STORY_APPROVED)
    good = story()
    good_headers = [
        (k, v.encode()) for k, v in Envelope.new(good, service="moderation").headers().items()
    ]

    def headers_for(event: StoryApproved) -> list[tuple[str, bytes]]:
        return [
            (k, v.encode()) for k, v in Envelope.new(event, service="moderation").headers().items()
        ]

    poison = [
        (b"{not json", headers_for(story())),
        (b'{"story_id": "not-a-uuid", "title": 3}', headers_for(story())),
        (story().model_dump_json().encode(), []),  # no CloudEvents headers
        (b'{"padding": "' + b"x" * 900_000 + b'"}', headers_for(story())),
    ]
    app = create_app(settings)
    async with serving(app) as client:
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=2_000_000
        )
        await producer.start()
        try:
            for value, headers in poison:
                await producer.send_and_wait(topic, value, key=b"poison", headers=headers)
            await producer.send_and_wait(
                topic,
                good.model_dump_json().encode(),
                key=str(good.story_id).encode(),
                headers=good_headers,
            )
        finally:
            await producer.stop()

        async def indexed() -> bool:
            return (await client.get(f"/v1/stories/{good.story_id}")).status_code == 200

        for _ in range(200):
            if await indexed():
                break
            await asyncio.sleep(0.2)
        assert await indexed(), "the valid story after the poison was not processed"
        letters = await read_topic(
            kafka_bootstrap, topics.dlq(Topic.STORY_APPROVED), at_least=4, settle=1.0
        )
        metrics = (await admin_get(app, "/metrics")).text

    assert len(letters) == 4
    for letter in letters:
        assert letter.headers["dlq_group"] == settings.group_id
        assert letter.headers["dlq_topic"] == topic
        assert letter.headers["dlq_error"]
        assert letter.headers["dlq_partition"].isdigit() and letter.headers["dlq_offset"].isdigit()
    assert {letter.headers["dlq_error_type"] for letter in letters} >= {"InvalidEnvelope"}
    assert 'candour_dlq_messages_total{service="search",topic="story.approved"} 4.0' in metrics

    listed = await read_dead_letters(kafka_bootstrap, topics, Topic.STORY_APPROVED)
    assert len(listed) == 4
    assert await replay_dead_letters(kafka_bootstrap, topics, Topic.STORY_APPROVED) == 4
    assert await replay_dead_letters(kafka_bootstrap, topics, Topic.STORY_APPROVED) == 0
    replayed = await read_topic(kafka_bootstrap, topic, at_least=9, settle=0.5)
    assert len(replayed) == 9  # 5 originals + 4 replayed, no more
