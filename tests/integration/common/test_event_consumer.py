"""The event consumer against a real Kafka and PostgreSQL: batches under backlog,
one record at a time when caught up, exactly once, a bad record isolated."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from candour_common.cloudevents import Envelope
from candour_common.consumer import Delivered, EventConsumer, Subscriptions
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
from candour_common.messaging import ConsumerPolicy, create_broker
from candour_common.metrics import PlatformMetrics
from candour_common.topics import Topic, TopicNames
from tests.infra import read_topic

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SCHEMA = """
CREATE TABLE handled (
    event_id uuid NOT NULL,
    story_id uuid NOT NULL,
    topic    text NOT NULL,
    batch    int  NOT NULL
)
"""


class Repository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, event_id: uuid.UUID, story_id: uuid.UUID, topic: str, batch: int) -> None:
        await self._conn.execute(
            "INSERT INTO handled (event_id, story_id, topic, batch) VALUES ($1, $2, $3, $4)",
            event_id,
            story_id,
            topic,
            batch,
        )


class ExampleUnitOfWork(UnitOfWork):
    handled: Repository

    def bind(self, conn: Connection) -> None:
        self.handled = Repository(conn)


class Behaviour:
    """What the example service's handlers do, set by each test."""

    def __init__(self) -> None:
        self.poison_titles: set[str] = set()
        self.flaky_titles: dict[str, int] = {}  # title -> outages still to simulate
        self.batch_calls: list[int] = []


def subscriptions(behaviour: Behaviour) -> Subscriptions[ExampleUnitOfWork]:
    subs: Subscriptions[ExampleUnitOfWork] = Subscriptions("example")

    async def index_many(
        uow: ExampleUnitOfWork, delivered: Sequence[Delivered[StoryApproved]]
    ) -> None:
        behaviour.batch_calls.append(len(delivered))
        for d in delivered:
            await on_approved(uow, d.event, d.envelope, batch=len(delivered))

    @subs.on(Topic.STORY_APPROVED, description="example", batch=index_many)
    async def on_approved(
        uow: ExampleUnitOfWork, event: StoryApproved, envelope: Envelope, batch: int = 1
    ) -> None:
        async with uow:
            if event.title in behaviour.poison_titles:
                raise RuntimeError("this record can never be handled")
            if behaviour.flaky_titles.get(event.title, 0) > 0:
                behaviour.flaky_titles[event.title] -= 1
                raise ConnectionError("database away")
            await uow.handled.add(envelope.id, event.story_id, "approved", batch)

    @subs.on(Topic.RESPONSE_POSTED, description="example")
    async def on_response(
        uow: ExampleUnitOfWork, event: ResponsePosted, envelope: Envelope
    ) -> None:
        async with uow:
            await uow.handled.add(envelope.id, event.story_id, "response", 1)

    return subs


def approved(title: str, story_id: uuid.UUID | None = None) -> StoryApproved:
    return StoryApproved(
        story_id=story_id or uuid.uuid4(),
        published_at=datetime.now(UTC),
        title=title,
        body="Everyone was kind.",
        organisation=OrganisationRef(id="TAD", name="Bradford District Care"),
        author=PublicAuthor(display_name="A carer", relationship="carer"),
    )


def response(story_id: uuid.UUID) -> ResponsePosted:
    return ResponsePosted(
        story_id=story_id,
        response_id=uuid.uuid4(),
        posted_at=datetime.now(UTC),
        organisation=OrganisationRef(id="TAD", name="Bradford District Care"),
        responder=Responder(display_name="Sam", role="Ward manager"),
        body="Thank you.",
    )


@pytest.fixture
async def pool(create_database) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("consumer")
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn, load_migrations(COMMON_MIGRATIONS))
        await conn.execute(SCHEMA)
    finally:
        await conn.close()
    pool = await create_pool(dsn)
    yield pool
    await pool.close()


class Harness:
    def __init__(self, kafka: str, topics: TopicNames, pool: asyncpg.Pool) -> None:
        self.kafka = kafka
        self.topics = topics
        self.pool = pool
        self.behaviour = Behaviour()
        self.metrics = PlatformMetrics("example")
        self.group = f"{topics.prefix}example"

    async def publish(self, events: Sequence[StoryApproved | ResponsePosted]) -> list[Envelope]:
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka, acks="all")
        await producer.start()
        envelopes = []
        try:
            for event in events:
                envelope = Envelope.new(event, service="test")
                envelopes.append(envelope)
                await producer.send(
                    self.topics.name(event.topic),
                    event.model_dump_json().encode(),
                    key=str(event.story_id).encode(),
                    headers=[(k, v.encode()) for k, v in envelope.headers().items()],
                )
            await producer.flush()
        finally:
            await producer.stop()
        return envelopes

    async def republish(self, event: StoryApproved, envelope: Envelope) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                self.topics.name(event.topic),
                event.model_dump_json().encode(),
                key=str(event.story_id).encode(),
                headers=[(k, v.encode()) for k, v in envelope.headers().items()],
            )
        finally:
            await producer.stop()

    def consumer(
        self, *, give_back_after: float = 60.0
    ) -> tuple[EventConsumer[ExampleUnitOfWork], object]:
        broker = create_broker(self.kafka, client_id="example")
        consumer = EventConsumer(
            subscriptions(self.behaviour),
            UnitOfWorkFactory(self.pool, ExampleUnitOfWork, "example"),
            broker=broker,
            topics=self.topics,
            policy=ConsumerPolicy(group_id=self.group, metrics=self.metrics, retry_delay=0.05),
            client_id="example",
            max_batch=100,
            give_back_after=give_back_after,
        )
        return consumer, broker

    async def rows(self) -> list[asyncpg.Record]:
        return await self.pool.fetch("SELECT * FROM handled")

    async def wait_for_rows(self, count: int, timeout: float = 60) -> list[asyncpg.Record]:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            rows = await self.rows()
            if len(rows) >= count:
                await asyncio.sleep(0.3)  # nothing more should come
                return await self.rows()
            await asyncio.sleep(0.1)
        raise AssertionError(f"only {len(await self.rows())} of {count} handled")


@pytest.fixture
async def harness(kafka_bootstrap: str, topics: TopicNames, pool: asyncpg.Pool) -> Harness:
    return Harness(kafka_bootstrap, topics, pool)


async def running(
    harness: Harness, *, give_back_after: float = 60.0
) -> tuple[EventConsumer[ExampleUnitOfWork], object]:
    consumer, broker = harness.consumer(give_back_after=give_back_after)
    await broker.start()  # type: ignore[attr-defined]
    await consumer.start()
    return consumer, broker


async def stopped(consumer: EventConsumer[ExampleUnitOfWork], broker: object) -> None:
    await consumer.stop()
    await broker.stop()  # type: ignore[attr-defined]


async def test_a_backlog_is_handled_in_batches_each_event_once(harness: Harness) -> None:
    stories = [approved(f"story {i}") for i in range(300)]
    responses = [response(s.story_id) for s in stories[:50]]
    await harness.publish([*stories, *responses])

    consumer, broker = await running(harness)
    try:
        rows = await harness.wait_for_rows(350)
    finally:
        await stopped(consumer, broker)

    assert len(rows) == 350
    assert len({r["event_id"] for r in rows}) == 350
    # Under a backlog the batch handler got many records at a time.
    assert max(harness.behaviour.batch_calls) > 10
    batches = harness.metrics.consumer_batch_size.labels("example")
    assert batches._sum.get() == 350  # type: ignore[attr-defined]


async def test_caught_up_records_are_handled_one_at_a_time(harness: Harness) -> None:
    consumer, broker = await running(harness)
    try:
        for i in range(5):
            await harness.publish([approved(f"alone {i}")])
            await harness.wait_for_rows(i + 1)
    finally:
        await stopped(consumer, broker)
    rows = await harness.rows()
    assert [r["batch"] for r in rows] == [1, 1, 1, 1, 1]


async def test_a_bad_record_is_dead_lettered_alone_and_the_rest_of_its_batch_is_kept(
    harness: Harness,
) -> None:
    harness.behaviour.poison_titles = {"poison"}
    events = [approved(f"before {i}") for i in range(40)]
    events.append(approved("poison"))
    events += [approved(f"after {i}") for i in range(40)]
    await harness.publish(events)

    consumer, broker = await running(harness)
    try:
        rows = await harness.wait_for_rows(80)
        letters = await read_topic(
            harness.kafka, harness.topics.dlq(Topic.STORY_APPROVED), at_least=1, settle=1.0
        )
    finally:
        await stopped(consumer, broker)

    assert len(rows) == 80
    assert len(letters) == 1
    assert letters[0].headers["dlq_error_type"] == "RuntimeError"


async def test_an_outage_is_waited_out_and_never_dead_letters(harness: Harness) -> None:
    harness.behaviour.flaky_titles = {"flaky": 3}
    await harness.publish([approved("flaky"), approved("steady")])
    consumer, broker = await running(harness)
    try:
        rows = await harness.wait_for_rows(2)
    finally:
        await stopped(consumer, broker)
    assert len(rows) == 2
    outages = harness.metrics.transient_errors.labels("example", "ConnectionError")
    assert outages._value.get() >= 3  # type: ignore[attr-defined]
    letters = await read_topic(
        harness.kafka, harness.topics.dlq(Topic.STORY_APPROVED), at_least=0, settle=0.5
    )
    assert letters == []


async def test_redelivery_and_restart_change_nothing(harness: Harness) -> None:
    story = approved("once")
    (envelope,) = await harness.publish([story])
    await harness.republish(story, envelope)  # the same event again, as a producer retry would

    consumer, broker = await running(harness)
    try:
        await harness.wait_for_rows(1)
    finally:
        await stopped(consumer, broker)
    # Offsets were committed on stop: a new consumer of the group reads nothing again,
    # and what is published next arrives once.
    consumer, broker = await running(harness)
    try:
        await harness.publish([approved("after restart")])
        rows = await harness.wait_for_rows(2)
    finally:
        await stopped(consumer, broker)
    assert sorted(r["batch"] for r in rows) == [1, 1]
    assert len(rows) == 2


async def test_a_long_outage_gives_the_records_back_and_polls_again(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    """A consumer that waited out an outage without polling for minutes would be taken for
    dead by its group; it hands the records back and reads them again instead."""
    harness.behaviour.flaky_titles = {"long outage": 12}
    await harness.publish([approved("long outage"), approved("after it")])
    consumer, broker = await running(harness, give_back_after=0.2)
    try:
        rows = await harness.wait_for_rows(2)
    finally:
        await stopped(consumer, broker)
    assert len(rows) == 2
    assert "records given back, polling again" in capsys.readouterr().out
    letters = await read_topic(
        harness.kafka, harness.topics.dlq(Topic.STORY_APPROVED), at_least=0, settle=0.5
    )
    assert letters == []
