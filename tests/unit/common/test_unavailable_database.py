"""A connection that broke under the caller is an outage, not a bad message or a bug.

When PostgreSQL shuts down, a pooled connection can be left half way through the
protocol and asyncpg raises `InternalClientError` on its next use. A consumer must
wait and retry that record (never count it towards dead-lettering), and an HTTP
request must get 503 problem+json (never 500).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from candour_common.cloudevents import Envelope
from candour_common.events import StoryWithdrawn
from candour_common.http.problems import install_problem_handlers
from candour_common.messaging import ConsumerPolicy, _handle_record
from candour_common.topics import TopicNames

BROKEN = asyncpg.exceptions.InternalClientError(
    "cannot switch to state 11; another operation (2) is in progress"
)


class DeadLetterBroker:
    """Stands in for the broker: the only call `_handle_record` makes is a dead-letter."""

    def __init__(self) -> None:
        self.published: list[str] = []

    async def publish(self, body: bytes, *, topic: str, **_: Any) -> None:
        self.published.append(topic)


def withdrawn_record(topics: TopicNames) -> SimpleNamespace:
    event = StoryWithdrawn(
        story_id=uuid.uuid4(), withdrawn_at=datetime.now(UTC), organisation_id="RXF"
    )
    envelope = Envelope.new(event, service="test")
    return SimpleNamespace(
        topic=topics.name(event.topic),
        partition=0,
        offset=7,
        key=None,
        value=event.model_dump_json().encode(),
        headers=[(k, v.encode()) for k, v in envelope.headers().items()],
    )


async def test_a_broken_connection_is_retried_past_max_attempts_not_dead_lettered() -> None:
    topics = TopicNames(prefix="t.")
    broker = DeadLetterBroker()
    calls = 0

    async def handler(event: Any, envelope: Envelope) -> None:
        nonlocal calls
        calls += 1
        if calls <= 4:  # more failures than max_attempts allows for a real error
            raise BROKEN

    policy = ConsumerPolicy(group_id="g", max_attempts=3, retry_delay=0.001)
    record = withdrawn_record(topics)
    await _handle_record(broker, topics, policy, record, StoryWithdrawn, handler)  # type: ignore[arg-type]

    assert calls == 5
    assert broker.published == []


async def test_a_real_error_is_still_dead_lettered_after_max_attempts() -> None:
    topics = TopicNames(prefix="t.")
    broker = DeadLetterBroker()

    async def handler(event: Any, envelope: Envelope) -> None:
        raise RuntimeError("a bug")

    policy = ConsumerPolicy(group_id="g", max_attempts=3, retry_delay=0.001)
    record = withdrawn_record(topics)
    await _handle_record(broker, topics, policy, record, StoryWithdrawn, handler)  # type: ignore[arg-type]

    assert broker.published == ["t.story.withdrawn.dlq"]


async def test_http_answers_503_problem_for_a_broken_connection() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/broken")
    async def broken() -> None:
        raise BROKEN

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.get("/broken")

    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["status"] == 503
