"""Safeguarding that reaches someone (issue 23), moderation and notifications together on
real Kafka, PostgreSQL and SMTP: a story submitted, screened, decided, its alert caught by
the SMTP server.

These four tests use only what main had before safeguarding.raised (the moderation API,
notifications' subscriptions, StorySubmitted), so each runs against the old code too, and
each failed there for the defect it names:
- approving after escalation alerts nobody;
- the urgent email carries no story text and no moderator note;
- it names no one to contact;
- it has an unsubscribe link.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from candour_common.auth import Role, issue_token
from candour_common.events import AuthorContact, Relationship, StorySubmitted
from candour_common.topics import TopicNames
from candour_moderation.bootstrap import create_app as create_moderation
from candour_moderation.settings import ModerationSettings
from tests.infra import MailSink, serving
from tests.integration.notifications.conftest import (
    MATERNITY,
    ORG_A,
    SECRET,
    Publisher,
    Running,
    ServiceFactory,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CONTACT = "safeguarding.lead@riverside.example"
DUTY = "duty@candour.example"
DUTY_CONTACT = "Candour duty moderator, 0300 000 0000"
SERIOUS = "Since I was discharged from the ward I want to kill myself."
MODERATOR = {
    "Authorization": "Bearer "
    + issue_token(SECRET, role=Role.MODERATOR, subject="mod-alice", organisation_id=None)
}


def story(body: str = SERIOUS, *, email: str | None = "sam.private@home.example") -> StorySubmitted:
    return StorySubmitted(
        story_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
        title="After the ward",
        body=body,
        organisation=ORG_A,
        service=MATERNITY,
        author=AuthorContact(
            display_name="Sam",
            relationship=Relationship.PATIENT,
            email=email,
            notify_on_response=False,
        ),
    )


@asynccontextmanager
async def moderation(
    create_database: Any, kafka_bootstrap: str, topics: TopicNames
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ModerationSettings(
        database_url=await create_database("moderation"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topics.prefix,
        jwt_secret=SECRET,
        outbox_poll_interval=0.2,
    )
    async with serving(create_moderation(settings)) as client:
        assert isinstance(client, httpx.AsyncClient)
        yield client


async def queued(client: httpx.AsyncClient, story_id: uuid.UUID) -> dict[str, Any]:
    """The story's detail once moderation has queued it."""
    for _ in range(300):
        answer = await client.get(f"/v1/queue/{story_id}", headers=MODERATOR)
        if answer.status_code == 200:
            return dict(answer.json())
        await _pause()
    raise AssertionError(f"story {story_id} never reached the queue")


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.15)


async def decide(client: httpx.AsyncClient, story_id: uuid.UUID, decision: dict[str, Any]) -> None:
    answer = await client.post(f"/v1/queue/{story_id}/decision", headers=MODERATOR, json=decision)
    assert answer.status_code == 200, answer.text


@dataclass
class Both:
    moderation: httpx.AsyncClient
    notifications: Running


@asynccontextmanager
async def both(
    notifications: ServiceFactory,
    create_database: Any,
    kafka_bootstrap: str,
    topics: TopicNames,
    smtp_server: MailSink,
    **settings: Any,
) -> AsyncIterator[Both]:
    """Notifications (with a safeguarding contact for ORG_A and a duty contact) and
    moderation, on the same topics."""
    async with notifications(
        smtp_port=smtp_server.port,
        safeguarding_duty_contact=DUTY_CONTACT,
        safeguarding_duty_moderators=DUTY,
        **settings,
    ) as service:
        await service.subscribe(CONTACT, kind="safeguarding")
        async with moderation(create_database, kafka_bootstrap, topics) as client:
            yield Both(client, service)


@pytest.fixture
async def platform(
    notifications: ServiceFactory,
    create_database: Any,
    kafka_bootstrap: str,
    topics: TopicNames,
    smtp_server: MailSink,
) -> AsyncIterator[httpx.AsyncClient]:
    async with both(notifications, create_database, kafka_bootstrap, topics, smtp_server) as b:
        yield b.moderation


async def test_approving_after_escalation_still_alerts_the_safeguarding_contact(
    platform: httpx.AsyncClient, publish: Publisher, smtp_server: MailSink
) -> None:
    submitted = story()
    await publish(submitted)
    await queued(platform, submitted.story_id)
    await decide(
        platform,
        submitted.story_id,
        {"decision": "approve", "criticality": 4, "acknowledge_safeguarding": True},
    )
    [mail] = await smtp_server.wait_for(CONTACT, timeout=60)
    assert " ".join(mail.subject.split()).startswith("URGENT")
    assert str(submitted.story_id) in mail.text()


async def test_rejected_for_safeguarding_the_alert_carries_the_story_and_the_note(
    platform: httpx.AsyncClient, publish: Publisher, smtp_server: MailSink
) -> None:
    # Screening matches nothing here: the moderator's own judgement escalates it.
    submitted = story(
        "When I visited, my sister looked thin and frightened and her new partner "
        "answered every question for her."
    )
    await publish(submitted)
    await queued(platform, submitted.story_id)
    note = "Possible coercive control of the sister: the author may be reachable today."
    await decide(
        platform,
        submitted.story_id,
        {"decision": "reject", "reason": "safeguarding_escalated", "note": note},
    )
    [mail] = await smtp_server.wait_for(CONTACT, timeout=60)
    text = " ".join(mail.text().split())
    assert "her new partner answered every question for her" in text
    assert note in text


async def test_the_alert_names_the_platform_duty_contact(
    platform: httpx.AsyncClient, publish: Publisher, smtp_server: MailSink
) -> None:
    submitted = story()
    await publish(submitted)
    await queued(platform, submitted.story_id)
    await decide(
        platform,
        submitted.story_id,
        {"decision": "reject", "reason": "safeguarding_escalated", "note": "Call them."},
    )
    [mail] = await smtp_server.wait_for(CONTACT, timeout=60)
    assert DUTY_CONTACT in " ".join(mail.text().split())


async def test_the_alert_has_no_unsubscribe_link(
    platform: httpx.AsyncClient, publish: Publisher, smtp_server: MailSink
) -> None:
    submitted = story()
    await publish(submitted)
    await queued(platform, submitted.story_id)
    await decide(
        platform,
        submitted.story_id,
        {"decision": "reject", "reason": "safeguarding_escalated", "note": "Call them."},
    )
    [mail] = await smtp_server.wait_for(CONTACT, timeout=60)
    assert mail.message["List-Unsubscribe"] is None
    assert mail.message["List-Unsubscribe-Post"] is None
    assert "/v1/unsubscribe" not in mail.text()
