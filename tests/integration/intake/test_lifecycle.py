"""Status, withdrawal, responses and idempotency against real PostgreSQL and Kafka."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from candour_common.auth import Role, issue_token
from candour_common.cloudevents import Envelope
from candour_common.events import (
    OrganisationRef,
    PublicAuthor,
    RejectionReason,
    StoryApproved,
    StoryRejected,
)
from candour_common.topics import Topic, TopicNames
from candour_intake.bootstrap import create_app
from tests.infra import admin_get, read_topic, serving
from tests.integration.intake.conftest import SECRET, STORY

pytestmark = pytest.mark.integration


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def staff(org: str) -> dict[str, str]:
    return bearer(issue_token(SECRET, role=Role.STAFF, subject=f"s@{org}", organisation_id=org))


async def publish(bootstrap: str, topics: TopicNames, event: StoryApproved | StoryRejected) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        headers = Envelope.new(event, service="moderation").headers()
        await producer.send_and_wait(
            topics.name(event.topic),
            event.model_dump_json().encode(),
            key=str(event.story_id).encode(),
            headers=[(k, v.encode()) for k, v in headers.items()],
        )
    finally:
        await producer.stop()


def approved(story_id: str) -> StoryApproved:
    return StoryApproved(
        story_id=uuid.UUID(story_id),
        published_at=datetime.now(UTC),
        title="Kind nurses",
        body="The staff listened.",
        organisation=OrganisationRef(id="TAD", name="Bradford District Care NHS Foundation Trust"),
        author=PublicAuthor(display_name="A patient", relationship="patient"),
        criticality=0,
    )


async def wait_status(client: httpx.AsyncClient, story_id: str, token: str, status: str) -> dict:
    import asyncio

    for _ in range(150):
        body = (await client.get(f"/v1/stories/{story_id}/status", headers=bearer(token))).json()
        if body.get("status") == status:
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"status never became {status}: {body}")


async def test_status_follows_moderation_and_responses_need_the_right_staff(
    make_intake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        created = (await client.post("/v1/stories", json=STORY)).json()
        story_id, token = created["story_id"], created["author_token"]
        status = (await client.get(f"/v1/stories/{story_id}/status", headers=bearer(token))).json()
        assert status == {
            "story_id": story_id,
            "status": "submitted",
            "rejection_reason": None,
            "response_count": 0,
        }
        response_body = {
            "body": "Thank you, we shared this with the team.",
            "responder": {"display_name": "Jo Smith", "role": "Ward manager"},
            "change": "planned",
        }
        # Not yet published: staff of the right organisation get 409.
        early = await client.post(
            f"/v1/stories/{story_id}/responses", json=response_body, headers=staff("TAD")
        )
        assert early.status_code == 409

        await publish(kafka_bootstrap, topics, approved(story_id))
        await wait_status(client, story_id, token, "published")

        matrix = {
            "anonymous": ({}, 401),
            "author": (bearer(token), 401),
            "other staff": (staff("RXA"), 403),
            "moderator": (bearer(issue_token(SECRET, role=Role.MODERATOR, subject="m")), 403),
            "operator": (bearer(issue_token(SECRET, role=Role.OPERATOR, subject="o")), 403),
            "garbage": (bearer("not-a-token"), 401),
        }
        for who, (headers, expected) in matrix.items():
            answer = await client.post(
                f"/v1/stories/{story_id}/responses", json=response_body, headers=headers
            )
            assert answer.status_code == expected, who
            assert answer.headers["content-type"] == "application/problem+json", who
        posted = await client.post(
            f"/v1/stories/{story_id}/responses", json=response_body, headers=staff("TAD")
        )
        assert posted.status_code == 201, posted.text
        status = (await client.get(f"/v1/stories/{story_id}/status", headers=bearer(token))).json()
        assert status["response_count"] == 1
        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.RESPONSE_POSTED), at_least=1, settle=0.5
        )
    assert len(records) == 1
    data = json.loads(records[0].value)
    assert data["response_id"] == posted.json()["response_id"]
    assert data["organisation"]["id"] == "TAD"
    assert data["change"] == "planned"
    assert "author@example.org" not in records[0].value.decode()


async def test_rejection_reason_reaches_the_status_page(
    make_intake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        created = (await client.post("/v1/stories", json=STORY)).json()
        await publish(
            kafka_bootstrap,
            topics,
            StoryRejected(
                story_id=uuid.UUID(created["story_id"]),
                rejected_at=datetime.now(UTC),
                organisation=OrganisationRef(id="TAD", name="x"),
                reason=RejectionReason.TOO_OLD,
            ),
        )
        status = await wait_status(client, created["story_id"], created["author_token"], "rejected")
    assert status["rejection_reason"] == "too_old"


async def test_withdrawal_emits_once_and_erases_the_text(
    make_intake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake()
    async with serving(create_app(settings)) as client:
        created = (await client.post("/v1/stories", json=STORY)).json()
        story_id, token = created["story_id"], created["author_token"]
        other = (await client.post("/v1/stories", json=STORY)).json()
        wrong = await client.delete(
            f"/v1/stories/{story_id}", headers=bearer(other["author_token"])
        )
        assert wrong.status_code == 401
        assert (await client.delete(f"/v1/stories/{story_id}")).status_code == 401
        for _ in range(2):  # withdrawing twice is harmless
            answer = await client.delete(f"/v1/stories/{story_id}", headers=bearer(token))
            assert answer.status_code == 202
        status = (await client.get(f"/v1/stories/{story_id}/status", headers=bearer(token))).json()
        assert status["status"] == "withdrawn"
        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.STORY_WITHDRAWN), at_least=1, settle=1.0
        )
        assert (
            await client.delete(f"/v1/stories/{uuid.uuid4()}", headers=bearer(token))
        ).status_code == 404
    assert [r.key for r in records] == [story_id.encode()]
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        row = await conn.fetchrow(
            "SELECT title, body, author_email FROM stories WHERE id = $1", uuid.UUID(story_id)
        )
    finally:
        await conn.close()
    assert row is not None
    assert (row["title"], row["body"], row["author_email"]) == ("", "", None)


async def test_idempotency_key_replays_the_first_answer(
    make_intake, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = await make_intake()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    async with serving(create_app(settings)) as client:
        first = await client.post("/v1/stories", json=STORY, headers=key)
        again = await client.post("/v1/stories", json=STORY, headers=key)
        different = await client.post("/v1/stories", json={**STORY, "title": "Other"}, headers=key)
        records = await read_topic(
            kafka_bootstrap, topics.name(Topic.STORY_SUBMITTED), at_least=1, settle=1.0
        )
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert different.status_code == 422
    assert different.headers["content-type"] == "application/problem+json"
    assert len(records) == 1
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        assert await conn.fetchval("SELECT count(*) FROM stories") == 1
        stored = await conn.fetchval("SELECT response FROM idempotency_keys")
    finally:
        await conn.close()
    assert first.json()["author_token"].encode() not in bytes(stored)


async def test_an_expired_idempotency_key_not_yet_purged_is_claimed_afresh(make_intake) -> None:
    """Past its hours a key no longer replays, whether or not retention has deleted it
    yet: the claim takes the old row over (one statement) and the request runs again."""
    settings = await make_intake(idempotency_key_hours=24)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        async with serving(create_app(settings)) as client:
            first = await client.post("/v1/stories", json=STORY, headers=key)
            await conn.execute(
                "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
            )
            other = {**STORY, "title": "Another visit"}
            after = await client.post("/v1/stories", json=other, headers=key)
            replayed = await client.post("/v1/stories", json=other, headers=key)
            refused = await client.post("/v1/stories", json=STORY, headers=key)
        assert first.status_code == after.status_code == replayed.status_code == 201
        assert after.json()["story_id"] != first.json()["story_id"]
        assert replayed.json() == after.json()
        assert refused.status_code == 422  # the live key is now the second request's
        assert await conn.fetchval("SELECT count(*) FROM stories") == 2
        row = await conn.fetchrow(
            "SELECT story_id, created_at > now() - interval '1 hour' AS fresh FROM idempotency_keys"
        )
    finally:
        await conn.close()
    assert row is not None and row["fresh"]
    assert str(row["story_id"]) == after.json()["story_id"]


async def test_limits_answer_413_and_429(make_intake) -> None:
    settings = await make_intake(max_request_bytes=2000, submission_rate_limit=2)
    async with serving(create_app(settings)) as client:
        big = await client.post("/v1/stories", json={**STORY, "body": "word " * 1000})
        assert big.status_code == 413
        assert big.headers["content-type"] == "application/problem+json"
        codes = [(await client.post("/v1/stories", json=STORY)).status_code for _ in range(3)]
        limited = await client.post("/v1/stories", json=STORY)
    assert codes == [201, 201, 429]
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1


async def test_health_readiness_and_metrics(make_intake) -> None:
    settings = await make_intake()
    app = create_app(settings)
    async with serving(app) as client:
        await client.post("/v1/stories", json=STORY)
        ready = await admin_get(app, "/readyz")
        metrics = (await admin_get(app, "/metrics")).text
        # Neither is served to the public: only on the admin port.
        assert (await client.get("/readyz")).status_code == 404
        assert (await client.get("/metrics")).status_code == 404
        assert (await client.get("/healthz")).status_code == 200
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "postgres": "ok",
        "kafka": "ok",
        "migrations": "ok",
        "screening": "ok",  # its safeguarding screener is built
    }
    assert (
        'candour_http_requests_total{method="POST",route="/v1/stories",service="story-intake",status="201"}'
        in metrics
    )
    assert "candour_outbox_backlog" in metrics
