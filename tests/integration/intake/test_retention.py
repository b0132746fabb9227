"""Retention, run by the service itself: published outbox rows, inbox ids and
Idempotency-Keys older than their configured age are deleted in the background (no
cron), younger ones stay, and `candour_retention_purged` counts what went.

story-intake against real PostgreSQL and Kafka: its outbox rows are really published,
its inbox row is written by really consuming story.approved; the test only backdates
some rows, as if that much time had passed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from candour_common.cloudevents import Envelope
from candour_common.events import OrganisationRef, PublicAuthor, Relationship, StoryApproved
from candour_common.topics import TopicNames
from candour_intake.bootstrap import create_app
from tests.infra import serving
from tests.integration.intake.conftest import STORY, MakeIntake
from tests.integration.notifications.conftest import eventually

pytestmark = pytest.mark.integration


def purged(app: object, table: str) -> float:
    registry = app.state.platform.metrics.registry  # type: ignore[attr-defined]
    value = registry.get_sample_value(
        "candour_retention_purged_total", {"service": "story-intake", "table": table}
    )
    return float(value or 0.0)


async def test_the_service_purges_what_is_past_its_age_and_keeps_the_rest(
    make_intake: MakeIntake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake(
        retention_interval_seconds=0.3,
        outbox_retention_days=7,
        inbox_retention_days=30,
        idempotency_key_hours=24,
    )
    app = create_app(settings)
    url = settings.database_url.get_secret_value()
    async with serving(app) as client:
        ids = []
        for n in range(2):
            answer = await client.post(
                "/v1/stories",
                json={**STORY, "title": f"Story {n}"},
                headers={"Idempotency-Key": f"retention-{uuid.uuid4()}"},
            )
            assert answer.status_code == 201, answer.text
            ids.append(uuid.UUID(answer.json()["story_id"]))
        old, young = ids

        approval = StoryApproved(
            story_id=old,
            published_at=datetime.now(UTC),
            title="Story 0",
            body=STORY["body"],
            organisation=OrganisationRef(id="TAD", name="Bradford District Care"),
            author=PublicAuthor(display_name="A patient", relationship=Relationship.PATIENT),
        )
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                topics.name(approval.topic),
                approval.model_dump_json().encode(),
                key=approval.kafka_key().encode(),
                headers=[
                    (k, v.encode())
                    for k, v in Envelope.new(approval, service="t").headers().items()
                ],
            )
        finally:
            await producer.stop()

        conn = await asyncpg.connect(url)
        try:

            async def ready() -> bool:
                sent = await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL")
                inbox = await conn.fetchval("SELECT count(*) FROM inbox")
                return bool(sent == 2 and inbox == 1)

            await eventually(ready)
            # As if time had passed for one story's rows: just past each configured age.
            await conn.execute(
                "UPDATE outbox SET sent_at = now() - interval '7 days 1 minute' WHERE key = $1",
                str(old),
            )
            await conn.execute(
                "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
                " WHERE story_id = $1",
                old,
            )
            await conn.execute("UPDATE inbox SET processed_at = now() - interval '31 days'")

            async def purged_everything_old() -> bool:
                outbox = {r["key"] for r in await conn.fetch("SELECT key FROM outbox")}
                keys = {
                    r["story_id"] for r in await conn.fetch("SELECT story_id FROM idempotency_keys")
                }
                inbox = await conn.fetchval("SELECT count(*) FROM inbox")
                return outbox == {str(young)} and keys == {young} and inbox == 0

            await eventually(purged_everything_old)
        finally:
            await conn.close()

        assert purged(app, "outbox") == 1
        assert purged(app, "idempotency_keys") == 1
        assert purged(app, "inbox") == 1
