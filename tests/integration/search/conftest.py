"""A running search service (real Kafka, real PostgreSQL) and a way to feed it events."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI

from candour_common.cloudevents import Envelope
from candour_common.events import (
    BaseEvent,
    Event,
    OrganisationRef,
    PublicAuthor,
    Relationship,
    Responder,
    ResponsePosted,
    ServiceRef,
    StoryApproved,
    StoryWithdrawn,
    Tags,
)
from candour_common.kafka_admin import ensure_topics
from candour_common.keys import story_partitioner
from candour_common.topics import Topic, TopicNames
from candour_search.bootstrap import create_app
from candour_search.settings import SearchSettings
from tests import infra

T = TypeVar("T")
DEADLINE = 45.0
BASE_TIME = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

ORG_A = OrganisationRef(id="RXA", name="Riverside Hospitals NHS Trust")
ORG_B = OrganisationRef(id="RXB", name="Hillview Community Health")
MATERNITY = ServiceRef(id="RXA-MAT", name="Maternity")
EMERGENCY = ServiceRef(id="RXA-ED", name="Emergency Department")
DISTRICT = ServiceRef(id="RXB-DN", name="District Nursing")


def approved(
    *,
    story_id: uuid.UUID | None = None,
    title: str = "A story",
    body: str = "Something happened at the hospital.",
    organisation: OrganisationRef = ORG_A,
    service: ServiceRef | None = MATERNITY,
    tags: Tags | None = None,
    criticality: int | None = 1,
    published_at: datetime = BASE_TIME,
    revision: int = 1,
) -> StoryApproved:
    return StoryApproved(
        story_id=story_id or uuid.uuid4(),
        published_at=published_at,
        revision=revision,
        title=title,
        body=body,
        organisation=organisation,
        service=service,
        author=PublicAuthor(display_name="A patient", relationship=Relationship.PATIENT),
        tags=tags or Tags(),
        criticality=criticality,
    )


def response(
    story: StoryApproved,
    *,
    body: str = "Thank you for sharing your story.",
    posted_at: datetime | None = None,
    change: str | None = None,
) -> ResponsePosted:
    return ResponsePosted.model_validate(
        {
            "story_id": story.story_id,
            "response_id": uuid.uuid4(),
            "posted_at": posted_at or story.published_at + timedelta(hours=5),
            "organisation": story.organisation,
            "responder": Responder(display_name="Sam Jones", role="Head of Midwifery"),
            "body": body,
            "change": change,
        }
    )


def withdrawn(story: StoryApproved) -> StoryWithdrawn:
    return StoryWithdrawn(
        story_id=story.story_id,
        withdrawn_at=datetime.now(UTC),
        organisation_id=story.organisation.id,
    )


@dataclass
class Published:
    envelope: Envelope
    partition: TopicPartition
    offset: int


@dataclass
class SearchHarness:
    app: FastAPI
    client: httpx.AsyncClient
    producer: AIOKafkaProducer
    admin: AIOKafkaAdminClient
    topics: TopicNames
    settings: SearchSettings

    @property
    def pool(self) -> asyncpg.Pool:
        pool: asyncpg.Pool = self.app.state.platform.pool
        return pool

    async def publish(self, event: BaseEvent, *, envelope: Envelope | None = None) -> Published:
        """Publish as a producer would: CloudEvents headers, the event's key (the story id,
        or `<story id>/<response id>`) on the story's partition."""
        envelope = envelope or Envelope.new(event, service="test")
        topic = self.topics.name(event.topic)
        meta = await self.producer.send_and_wait(
            topic,
            value=event.model_dump_json().encode(),
            key=event.kafka_key().encode(),
            headers=[(k, v.encode()) for k, v in envelope.headers().items()],
        )
        return Published(envelope, TopicPartition(topic, meta.partition), meta.offset)

    async def publish_with_story_key(self, event: Event) -> Published:
        """As producers did before responses had keys of their own: key = story id."""
        envelope = Envelope.new(event, service="test")
        topic = self.topics.name(event.topic)
        meta = await self.producer.send_and_wait(
            topic,
            value=event.model_dump_json().encode(),
            key=str(event.story_id).encode(),
            headers=[(k, v.encode()) for k, v in envelope.headers().items()],
        )
        return Published(envelope, TopicPartition(topic, meta.partition), meta.offset)

    async def publish_tombstone(self, topic: Topic, key: str, story_id: uuid.UUID) -> Published:
        """A null value for `key`, as a withdrawal writes one (CloudEvents headers, no data)."""
        envelope = Envelope.tombstone(topic, story_id, service="test")
        name = self.topics.name(topic)
        meta = await self.producer.send_and_wait(
            name,
            value=None,
            key=key.encode(),
            headers=[(k, v.encode()) for k, v in envelope.headers(with_data=False).items()],
        )
        return Published(envelope, TopicPartition(name, meta.partition), meta.offset)

    async def consumed(self, *published: Published) -> None:
        """Wait until search committed the offsets past these messages (handled them)."""

        async def committed() -> bool:
            offsets = await self.admin.list_consumer_group_offsets(self.settings.group_id)
            for p in published:
                done = offsets.get(p.partition)
                if done is None or done.offset <= p.offset:
                    return False
            return True

        await eventually(committed)

    async def search(self, **params: Any) -> dict[str, Any]:
        response = await self.client.get("/v1/search", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, within: float = DEADLINE, interval: float = 0.2
) -> T:
    """Poll `check` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within}s (last result: {result!r})")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_search(
    database_url: str, kafka_bootstrap: str, topics: TopicNames
) -> AsyncIterator[SearchHarness]:
    settings = SearchSettings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topics.prefix,
        database_pool_size=4,
        log_json=True,
        jwt_secret="search-integration-secret-0123456789abcdef",
    )
    app = create_app(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", partitioner=story_partitioner
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    await admin.start()
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://search"
            ) as client,
        ):
            yield SearchHarness(app, client, producer, admin, topics, settings)
    finally:
        await producer.stop()
        await admin.close()


@pytest.fixture
async def search_service(
    create_database: Callable[[str], Awaitable[str]], kafka_bootstrap: str, topics: TopicNames
) -> AsyncIterator[SearchHarness]:
    """A search service of its own for one test."""
    async with running_search(await create_database("search"), kafka_bootstrap, topics) as harness:
        yield harness


@pytest.fixture(scope="module")
async def shared_search_service(
    postgres_server_url: str, kafka_bootstrap: str
) -> AsyncIterator[SearchHarness]:
    """One search service for a module of tests that only read what they loaded once."""
    name = infra.fresh_name("search")
    conn = await asyncpg.connect(postgres_server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    topics = TopicNames(prefix=f"t{uuid.uuid4().hex[:10]}.")
    await ensure_topics(kafka_bootstrap, topics, partitions=3)
    try:
        async with running_search(
            infra.database_url(postgres_server_url, name), kafka_bootstrap, topics
        ) as harness:
            yield harness
    finally:
        await infra.delete_topics(kafka_bootstrap, topics.prefix)
        conn = await asyncpg.connect(postgres_server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
