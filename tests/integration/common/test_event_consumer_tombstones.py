"""Tombstones through the event consumer, against a real Kafka and PostgreSQL.

A topic's tombstone handler gets a null-value record in its place among the events of
its partition, batched under a backlog or one at a time when caught up; a topic without
one skips tombstones. Neither is ever dead-lettered as a bad event.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from candour_common.cloudevents import Envelope
from candour_common.consumer import EventConsumer, Subscriptions
from candour_common.db import Connection
from candour_common.db.migrations import COMMON_MIGRATIONS, apply_migrations, load_migrations
from candour_common.db.pool import create_pool
from candour_common.db.uow import UnitOfWork, UnitOfWorkFactory
from candour_common.events import (
    OrganisationRef,
    PublicAuthor,
    Responder,
    ResponsePosted,
    StoryApproved,
)
from candour_common.keys import story_key, story_partitioner
from candour_common.messaging import ConsumerPolicy, create_broker
from candour_common.metrics import PlatformMetrics
from candour_common.topics import Topic, TopicNames
from tests.infra import read_topic

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


class Stories:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def put(self, story_id: uuid.UUID, title: str) -> None:
        await self._conn.execute(
            "INSERT INTO stories VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET title = $2",
            story_id,
            title,
        )

    async def erase(self, key: str) -> None:
        await self._conn.execute("DELETE FROM stories WHERE id = $1::uuid", key)
        await self._conn.execute("INSERT INTO erased VALUES ($1)", key)


class StoriesUnitOfWork(UnitOfWork):
    stories: Stories

    def bind(self, conn: Connection) -> None:
        self.stories = Stories(conn)


def subscriptions() -> Subscriptions[StoriesUnitOfWork]:
    subs: Subscriptions[StoriesUnitOfWork] = Subscriptions("example")

    async def erase(uow: StoriesUnitOfWork, key: str, envelope: Envelope | None) -> None:
        assert envelope is not None and envelope.subject == key
        async with uow:
            await uow.stories.erase(key)

    @subs.on(Topic.STORY_APPROVED, description="example", tombstone=erase)
    async def on_approved(uow: StoriesUnitOfWork, event: StoryApproved, envelope: Envelope) -> None:
        async with uow:
            await uow.stories.put(event.story_id, event.title)

    @subs.on(Topic.RESPONSE_POSTED, description="example: no tombstone handler")
    async def on_response(uow: StoriesUnitOfWork, event: ResponsePosted, env: Envelope) -> None:
        return None

    return subs


def approved(title: str, story_id: uuid.UUID) -> StoryApproved:
    return StoryApproved(
        story_id=story_id,
        published_at=datetime.now(UTC),
        title=title,
        body="Everyone was kind.",
        organisation=OrganisationRef(id="TAD", name="Bradford District Care"),
        author=PublicAuthor(display_name="A carer", relationship="carer"),
    )


@pytest.fixture
async def pool(create_database) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("tombstones")
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn, load_migrations(COMMON_MIGRATIONS))
        await conn.execute("CREATE TABLE stories (id uuid PRIMARY KEY, title text NOT NULL)")
        await conn.execute("CREATE TABLE erased (key text NOT NULL)")
    finally:
        await conn.close()
    pool = await create_pool(dsn)
    yield pool
    await pool.close()


async def publish(kafka: str, topics: TopicNames, records: Sequence[object]) -> None:
    """Events (with their envelopes) and tombstones (`(topic, story id)`), in order."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", partitioner=story_partitioner)
    await producer.start()
    try:
        for record in records:
            if isinstance(record, tuple):
                topic, story_id = record
                envelope = Envelope.tombstone(topic, story_id, service="test")
                await producer.send_and_wait(
                    topics.name(topic),
                    None,
                    key=story_key(story_id).encode(),
                    headers=[(k, v.encode()) for k, v in envelope.headers(with_data=False).items()],
                )
            else:
                assert isinstance(record, StoryApproved | ResponsePosted)
                headers = Envelope.new(record, service="test").headers()
                await producer.send_and_wait(
                    topics.name(record.topic),
                    record.model_dump_json().encode(),
                    key=record.kafka_key().encode(),
                    headers=[(k, v.encode()) for k, v in headers.items()],
                )
    finally:
        await producer.stop()


async def test_tombstones_are_erased_in_order_and_skipped_where_nobody_needs_them(
    kafka_bootstrap: str, topics: TopicNames, pool: asyncpg.Pool
) -> None:
    kept, gone, late = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    reply = ResponsePosted(
        story_id=kept,
        response_id=uuid.uuid4(),
        posted_at=datetime.now(UTC),
        organisation=OrganisationRef(id="TAD", name="Bradford District Care"),
        responder=Responder(display_name="Sam", role="Ward manager"),
        body="Thank you.",
    )
    # A backlog: handled in batches, the tombstone after the approval it erases.
    await publish(
        kafka_bootstrap,
        topics,
        [
            approved("kept", kept),
            approved("gone", gone),
            approved("gone, edited", gone),
            (Topic.STORY_APPROVED, gone),
            reply,
            (Topic.RESPONSE_POSTED, kept),
        ],
    )
    metrics = PlatformMetrics("example")
    broker = create_broker(kafka_bootstrap, client_id="example")
    consumer = EventConsumer(
        subscriptions(),
        UnitOfWorkFactory(pool, StoriesUnitOfWork, "example"),
        broker=broker,
        topics=topics,
        policy=ConsumerPolicy(
            group_id=f"{topics.prefix}example", metrics=metrics, retry_delay=0.05
        ),
        client_id="example",
        max_batch=100,
    )
    await broker.start()
    await consumer.start()
    try:

        async def erased(count: int) -> list[str]:
            for _ in range(300):
                rows = await pool.fetch("SELECT key FROM erased")
                if len(rows) >= count:
                    return [r["key"] for r in rows]
                await asyncio.sleep(0.1)
            raise AssertionError("the tombstone was not handled")

        assert await erased(1) == [str(gone)]
        # Caught up: one record at a time, the same.
        await publish(
            kafka_bootstrap, topics, [approved("late", late), (Topic.STORY_APPROVED, late)]
        )
        assert await erased(2) == [str(gone), str(late)]
        await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
        await broker.stop()
    rows = await pool.fetch("SELECT id, title FROM stories")
    assert [(r["id"], r["title"]) for r in rows] == [(kept, "kept")]
    tombstones = {
        topic: metrics.registry.get_sample_value(
            "candour_events_consumed_total",
            {"service": "example", "topic": topic, "outcome": "tombstone"},
        )
        for topic in ("story.approved", "response.posted")
    }
    assert tombstones == {"story.approved": 2, "response.posted": 1}
    for topic in (Topic.STORY_APPROVED, Topic.RESPONSE_POSTED):
        assert await read_topic(kafka_bootstrap, topics.dlq(topic), at_least=0, settle=0.5) == []
