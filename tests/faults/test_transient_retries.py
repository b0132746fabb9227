"""A database outage is waited out with capped backoff and counted, not retried in silence.

notifications runs in this process on the shared Apache Kafka and a PostgreSQL server of
this test's own, which the test stops while an event arrives. Its consumer and its
delivery worker keep retrying, each retry counted in `candour_transient_errors` (by
error type), and once the server is back the event is handled and the email sent, once.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from candour_common.cloudevents import Envelope
from candour_common.topics import TopicNames
from candour_notifications.adapters import repository
from candour_notifications.bootstrap import create_app
from candour_notifications.domain import Frequency, Subscription, SubscriptionKind
from candour_notifications.settings import NotificationsSettings
from tests.faults.private_postgres import PrivatePostgres
from tests.infra import MailSink
from tests.integration.notifications.conftest import ORG_A, approved, eventually

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(240)]


def retries(registry: CollectorRegistry) -> float:
    """Every retry counted so far, whatever the error."""
    return sum(
        sample.value
        for metric in registry.collect()
        if metric.name == "candour_transient_errors"
        for sample in metric.samples
        if sample.name == "candour_transient_errors_total"
    )


async def test_outage_retries_are_counted_and_the_event_is_handled_once_it_ends(
    private_postgres: PrivatePostgres,
    kafka_bootstrap: str,
    topics: TopicNames,
    smtp_server: MailSink,
) -> None:
    name = f"notif_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(private_postgres.url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    settings = NotificationsSettings(
        database_url=private_postgres.database_url(name),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topics.prefix,
        jwt_secret="transient-retries-secret-0123456789abcdef",
        unsubscribe_secret="transient-retries-unsubscribe-0123456789abcdef",
        smtp_port=smtp_server.port,
        delivery_poll_interval=0.2,
    )
    app = create_app(settings)
    address = "ward@outage.example"
    story = approved(title="Published while the database was down")
    async with app.router.lifespan_context(app):
        platform = app.state.platform
        async with platform.pool.acquire() as db:
            await repository.add_subscription(
                db,
                Subscription(
                    id=uuid.uuid4(),
                    email=address,
                    organisation_id=ORG_A.id,
                    frequency=Frequency.IMMEDIATE,
                    kind=SubscriptionKind.STORIES,
                ),
                created_by="test",
            )
        registry = platform.metrics.registry

        await asyncio.to_thread(private_postgres.stop)
        before = retries(registry)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                topics.name(story.topic),
                story.model_dump_json().encode(),
                key=story.kafka_key().encode(),
                headers=[
                    (k, v.encode()) for k, v in Envelope.new(story, service="t").headers().items()
                ],
            )
        finally:
            await producer.stop()

        async def counted() -> bool:
            # The delivery worker polls every 0.2 s; the consumer retries the event with
            # backoff (0.5 s, 1 s, 2 s ...): both counted, so well over a handful.
            return retries(registry) - before >= 8

        await eventually(counted, within=60)
        # Waited for: neither handled nor dead-lettered while the database is away.
        for outcome in ("handled", "dead_lettered"):
            assert not registry.get_sample_value(
                "candour_events_consumed_total",
                {"service": "notifications", "topic": "story.approved", "outcome": outcome},
            )
        await asyncio.to_thread(private_postgres.start)
        [mail] = await smtp_server.wait_for(address, timeout=90)
        assert "Published while the database was down" in mail.text()
        await asyncio.sleep(2)
    assert len(smtp_server.to(address)) == 1
