"""Kafka being down delays events; it never loses them and never blocks intake."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from candour_common.kafka_admin import ensure_topics
from candour_common.topics import Topic, TopicNames
from candour_intake.bootstrap import create_app
from tests.conftest import free_port
from tests.infra import PrivateKafka, read_topic, serving
from tests.integration.intake.conftest import STORY

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture
def private_kafka(tmp_path: Path) -> Iterator[PrivateKafka]:
    kafka = PrivateKafka(tmp_path / "kafka-state", free_port(), free_port())
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


async def test_submissions_succeed_while_kafka_is_down_and_flow_when_it_returns(
    make_intake, private_kafka: PrivateKafka
) -> None:
    topics = TopicNames("outage.")
    await ensure_topics(private_kafka.bootstrap, topics)
    settings = await make_intake(
        kafka_bootstrap=private_kafka.bootstrap, topic_prefix=topics.prefix
    )
    ids: list[str] = []
    async with serving(create_app(settings)) as client:
        ids.append((await client.post("/v1/stories", json=STORY)).json()["story_id"])
        await read_topic(private_kafka.bootstrap, topics.name(Topic.STORY_SUBMITTED), at_least=1)

        await asyncio.to_thread(private_kafka.stop)
        for _ in range(5):
            started = time.monotonic()
            answer = await client.post("/v1/stories", json=STORY)
            assert answer.status_code == 201, answer.text
            assert time.monotonic() - started < 5, "intake must not wait for Kafka"
            ids.append(answer.json()["story_id"])
        conn = await asyncpg.connect(settings.database_url.get_secret_value())
        try:
            assert await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 5
        finally:
            await conn.close()

        await asyncio.to_thread(private_kafka.start)
        records = await read_topic(
            private_kafka.bootstrap, topics.name(Topic.STORY_SUBMITTED), at_least=6, timeout=120
        )
    assert {r.key.decode() for r in records if r.key} == set(ids)
