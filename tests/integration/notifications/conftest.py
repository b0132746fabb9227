"""A running notifications service (real Kafka, PostgreSQL, SMTP) and ways to feed it events."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from candour_common.auth import Role, issue_token
from candour_common.cloudevents import Envelope
from candour_common.events import (
    AuthorContact,
    BaseEvent,
    Event,
    OrganisationListed,
    OrganisationRef,
    PublicAuthor,
    Relationship,
    ServiceRef,
    StoryApproved,
    StoryLanguage,
    StorySubmitted,
    Tags,
)
from candour_common.topics import TopicNames
from candour_notifications.adapters.clock import Clock
from candour_notifications.adapters.mailer import Mailer
from candour_notifications.bootstrap import create_app
from candour_notifications.settings import NotificationsSettings

# The notification tests import these from here.
from tests.infra import free_port as free_port
from tests.infra import smtp_server

smtp_running = smtp_server  # a real SMTP server that keeps what it receives in a given sink

DEADLINE = 45.0
SECRET = "integration-test-secret-of-32-bytes-or-more"
UNSUBSCRIBE_SECRET = "integration-unsubscribe-key-of-32-bytes-plus"
ORG_A = OrganisationRef(id="RXA", name="Riverside Hospitals NHS Trust")
ORG_B = OrganisationRef(id="RXB", name="Hillview Community Health")
MATERNITY = ServiceRef(id="RXA-MAT", name="Maternity")
EMERGENCY = ServiceRef(id="RXA-ED", name="Emergency Department")


def submitted(
    story_id: uuid.UUID,
    email: str | None,
    *,
    notify: bool = False,
    title: str = "A story",
    body: str = "Something happened at the hospital.",
    display_name: str | None = None,
    version: int = 1,
    language: StoryLanguage = StoryLanguage.ENGLISH,
) -> StorySubmitted:
    """A story.submitted of ORG_A's maternity service, with the author's address."""
    return StorySubmitted(
        story_id=story_id,
        submitted_at=datetime.now(UTC),
        title=title,
        body=body,
        organisation=ORG_A,
        service=MATERNITY,
        author=AuthorContact(
            display_name=display_name,
            relationship=Relationship.PATIENT,
            email=email,
            notify_on_response=notify,
        ),
        language=language,
        version=version,
    )


def approved(
    *,
    story_id: uuid.UUID | None = None,
    title: str = "A story",
    body: str = "Something happened at the hospital.",
    organisation: OrganisationRef = ORG_A,
    service: ServiceRef | None = MATERNITY,
    tags: Tags | None = None,
    criticality: int | None = 1,
    revision: int = 1,
) -> StoryApproved:
    return StoryApproved(
        story_id=story_id or uuid.uuid4(),
        published_at=datetime.now(UTC),
        revision=revision,
        title=title,
        body=body,
        organisation=organisation,
        service=service,
        author=PublicAuthor(display_name="A patient", relationship=Relationship.PATIENT),
        tags=tags or Tags(),
        criticality=criticality,
    )


def token(role: Role, organisation_id: str | None = None) -> str:
    return issue_token(SECRET, role=role, subject=f"{role}-user", organisation_id=organisation_id)


def auth(role: Role = Role.STAFF, organisation_id: str | None = "RXA") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, organisation_id)}"}


async def eventually(
    probe: Callable[[], Awaitable[Any]], *, within: float = DEADLINE, interval: float = 0.1
) -> Any:
    """Poll until `probe` returns something truthy; fail with its last value at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await probe()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s (last: {value!r})")
        await asyncio.sleep(interval)


@dataclass
class Publisher:
    producer: AIOKafkaProducer
    topics: TopicNames

    async def __call__(self, event: BaseEvent, envelope: Envelope | None = None) -> Envelope:
        envelope = envelope or Envelope.new(event, service="test")
        # A story's events keyed by the story id, so they share a partition here too.
        key = str(event.story_id) if isinstance(event, Event) else event.kafka_key()
        await self.producer.send_and_wait(
            self.topics.name(event.topic),
            value=event.model_dump_json().encode(),
            key=key.encode(),
            headers=[(k, v.encode()) for k, v in envelope.headers().items()],
        )
        return envelope


@pytest.fixture
async def publish(kafka_bootstrap: str, topics: TopicNames) -> AsyncIterator[Publisher]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        yield Publisher(producer, topics)
    finally:
        await producer.stop()


class FakeClock:
    """A clock tests move by hand: the service sees whatever time the test says."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = now

    def advance(self, by: timedelta) -> None:
        self._now += by


@dataclass
class Running:
    client: httpx.AsyncClient
    settings: NotificationsSettings
    database_url: str
    app: FastAPI

    @property
    def pool(self) -> asyncpg.Pool:
        pool: asyncpg.Pool = self.app.state.platform.pool
        return pool

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def subscribe(
        self, email: str, organisation_id: str = "RXA", **fields: Any
    ) -> dict[str, Any]:
        body = {
            "email": email,
            "organisation_id": organisation_id,
            "frequency": "immediate",
            "kind": "stories",
            **fields,
        }
        answer = await self.client.post(
            "/v1/subscriptions", json=body, headers=auth(Role.OPERATOR, None)
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())


ServiceFactory = Callable[..., contextlib.AbstractAsyncContextManager[Running]]


@pytest.fixture
def notifications(
    kafka_bootstrap: str, topics: TopicNames, create_database: Callable[[str], Awaitable[str]]
) -> ServiceFactory:
    """Start the service (migrations, pool, broker, worker) against a given SMTP port."""

    @contextlib.asynccontextmanager
    async def start(
        *,
        smtp_port: int,
        database_url: str | None = None,
        clock: Clock | None = None,
        mailer: Mailer | None = None,
        **overrides: Any,
    ) -> AsyncIterator[Running]:
        # Passing the database of an earlier (or running) copy restarts it, or runs two.
        database_url = database_url or await create_database("notif")
        values: dict[str, Any] = {
            "database_url": database_url,
            "kafka_bootstrap": kafka_bootstrap,
            "topic_prefix": topics.prefix,
            "jwt_secret": SECRET,
            "unsubscribe_secret": UNSUBSCRIBE_SECRET,
            "smtp_port": smtp_port,
            "search_public_url": "http://search.test",
            "intake_public_url": "http://intake.test",
            "notifications_public_url": "http://notifications.test",
            "delivery_poll_interval": 0.2,
            "delivery_backoff_base_seconds": 0.1,
            **overrides,
        }
        settings = NotificationsSettings(**values)
        app = create_app(settings, mailer=mailer, clock=clock)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
                yield Running(client, settings, database_url, app)

    return start


async def list_in_directory(
    service: Running,
    publish: Publisher,
    organisation: OrganisationRef,
    services: list[ServiceRef],
) -> None:
    """Publish the organisation's directory entry as story-intake does (on
    directory.organisations) and wait until notifications has handled it."""
    envelope = await publish(
        OrganisationListed(
            organisation_id=organisation.id,
            name=organisation.name,
            type="nhs_trust",
            services=services,
            listed_at=datetime.now(UTC),
        )
    )

    async def handled() -> bool:
        rows = await service.fetch("SELECT 1 FROM inbox WHERE event_id = $1", envelope.id)
        return bool(rows)

    await eventually(handled)


async def learn_directory(
    service: Running,
    publish: Publisher,
    organisation: OrganisationRef,
    services: list[ServiceRef],
    tags: list[str] | None = None,
) -> None:
    """Let notifications hear of an organisation's services (and tags) as stories name
    them: stories about them arrive on story.submitted (no contact, so no email)."""
    from candour_common.events import AuthorContact, StorySubmitted

    envelopes = [
        await publish(
            StorySubmitted(
                story_id=uuid.uuid4(),
                submitted_at=datetime.now(UTC),
                title="A story",
                body="Unmoderated words.",
                organisation=organisation,
                service=place,
                author=AuthorContact(display_name="Sam", relationship=Relationship.PATIENT),
                tags=Tags(improve=tags or []),
            )
        )
        for place in services
    ]

    async def handled() -> bool:
        rows = await service.fetch(
            "SELECT 1 FROM inbox WHERE event_id = ANY($1)", [e.id for e in envelopes]
        )
        return len(rows) == len(envelopes)

    await eventually(handled)
