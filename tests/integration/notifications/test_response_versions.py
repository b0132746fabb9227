"""A response corrected or deleted by its responder (a higher version of the same
response id on response.posted): no second email to the author or the subscribers, an
older version arriving late and a redelivery change nothing, and emails not sent yet
carry the correction or are cancelled. Real Kafka, PostgreSQL and SMTP."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import pytest

from candour_common.auth import Principal, Role
from candour_common.cloudevents import Envelope
from candour_common.events import ChangeMarker, ResponsePosted
from candour_common.runtime import migrate_database
from candour_notifications.domain import Frequency, Subscribe, SubscriptionKind
from candour_notifications.service_layer import handlers
from candour_notifications.service_layer.unit_of_work import PostgresNotificationsUnitOfWork
from tests.infra import MailSink
from tests.integration.notifications.conftest import (
    Publisher,
    Running,
    ServiceFactory,
    approved,
    eventually,
)
from tests.integration.notifications.test_authors_and_withdrawal import response_to, submitted

pytestmark = pytest.mark.integration

AUTHOR = "author@home.example"
STAFF = "responses@riverside.example"


def new_uow(pool: asyncpg.Pool) -> PostgresNotificationsUnitOfWork:
    """A unit of work as bootstrap wires it, on the test's own pool."""
    return PostgresNotificationsUnitOfWork(pool, service="notifications")


def version(first: ResponsePosted, number: int, **changes: object) -> ResponsePosted:
    edited_at = first.posted_at + timedelta(minutes=number)
    return first.model_copy(update={"version": number, "edited_at": edited_at, **changes})


async def handled(service: Running, *envelopes: Envelope) -> None:
    """Wait until notifications recorded these events in its inbox (it handled them)."""
    ids = list({e.id for e in envelopes})  # a redelivery has the id of the first

    async def done() -> bool:
        rows = await service.fetch("SELECT event_id FROM inbox WHERE event_id = ANY($1)", ids)
        return len(rows) == len(ids)

    await eventually(done)


async def test_a_correction_a_late_first_version_and_a_redelivery_send_no_second_email(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        await service.subscribe(STAFF, kind="responses")
        story_id = uuid.uuid4()
        await publish(submitted(story_id, AUTHOR, notify=True))
        await publish(approved(story_id=story_id))

        async def contact_stored() -> bool:
            return bool(await service.fetch("SELECT 1 FROM author_contacts"))

        await eventually(contact_stored)
        # The author is told it is published first (test_author_outcomes.py).
        [published] = await smtp_server.wait_for(AUTHOR, timeout=45)
        first = response_to(story_id, body="Thank you, we have shraed this.")
        await publish(first)
        _, to_author = await smtp_server.wait_for(AUTHOR, count=2, timeout=45)
        await smtp_server.wait_for(STAFF, timeout=45)
        assert "shraed" in to_author.text()

        correction = await publish(version(first, 2, body="Thank you, we have shared this."))
        redelivered = await publish(version(first, 2, body="forged"), correction)
        late_first = await publish(first)  # a new event id: only its version stops it
        await handled(service, correction, redelivered, late_first)
        # Another response to the same story, on the same partition after them: once its
        # emails arrive, anything the versions above owed would have gone before.
        marker = await publish(response_to(story_id, body="A second, separate response."))
        await handled(service, marker)
        await smtp_server.wait_for(AUTHOR, count=3, timeout=45)
        await smtp_server.wait_for(STAFF, count=2, timeout=45)

        for address in (AUTHOR, STAFF):
            mails = [m for m in smtp_server.to(address) if m is not published]
            assert len(mails) == 2, [m.subject for m in mails]
            assert not any("shared this" in m.text() or "forged" in m.text() for m in mails)
        owed = await service.fetch(
            "SELECT count(*) AS n FROM deliveries WHERE event_id = ANY($1)",
            [correction.id, late_first.id],
        )
        assert owed[0]["n"] == 0
        [seen] = await service.fetch(
            "SELECT version, deleted FROM response_versions WHERE response_id = $1",
            first.response_id,
        )
        assert (seen["version"], seen["deleted"]) == (2, False)


async def test_a_deletion_sends_nothing_and_a_late_older_version_does_not_alert(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        await service.subscribe(STAFF, kind="responses")
        story_id = uuid.uuid4()
        await publish(approved(story_id=story_id))
        first = response_to(story_id, body="Posted by mistake.")
        # Deleted before notifications heard of version 1 (a replay puts it after).
        deleted = await publish(version(first, 2, body="", deleted=True))
        late_first = await publish(first)
        await handled(service, deleted, late_first)
        marker = await publish(response_to(story_id, body="The real response."))
        await handled(service, marker)
        [mail] = await smtp_server.wait_for(STAFF, timeout=45)
        assert "The real response." in mail.text()
        assert "Posted by mistake." not in mail.text()


async def test_emails_not_sent_yet_carry_the_correction_or_are_cancelled(
    create_database, kafka_bootstrap: str
) -> None:
    """The handler against a real PostgreSQL with no delivery worker running, so the
    emails a first version owes are still pending when its later versions arrive."""
    url = await create_database("notif-versions")
    await migrate_database(url, "candour_notifications.migrations")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    links = handlers.Links("http://search.test", "http://intake.test")
    operator = Principal(subject="operator", role=Role.OPERATOR)
    try:
        for kind, frequency in (("immediate", Frequency.IMMEDIATE), ("daily", Frequency.DAILY)):
            await handlers.subscribe(
                new_uow(pool),
                operator,
                Subscribe(
                    email=f"{kind}@riverside.example",
                    organisation_id="RXA",
                    frequency=frequency,
                    kind=SubscriptionKind.RESPONSES,
                ),
            )
        story_id = uuid.uuid4()
        await handlers.alert_story_approved(
            new_uow(pool), approved(story_id=story_id), event_id=uuid.uuid4(), links=links
        )
        corrected = response_to(story_id, body="First words.")
        removed = response_to(story_id, body="Gone soon.")
        first_ids = {corrected.response_id: uuid.uuid4(), removed.response_id: uuid.uuid4()}
        for event in (corrected, removed):
            owed = await handlers.alert_response_posted(
                new_uow(pool), event, event_id=first_ids[event.response_id], links=links
            )
            assert owed == 1  # the immediate subscriber; the daily one waits for the digest
        fixed = version(corrected, 2, body="Corrected words.", change=ChangeMarker.MADE)
        assert (
            await handlers.alert_response_posted(
                new_uow(pool), fixed, event_id=uuid.uuid4(), links=links
            )
            == 0
        )
        assert (
            await handlers.alert_response_posted(
                new_uow(pool),
                version(removed, 2, body="", deleted=True),
                event_id=uuid.uuid4(),
                links=links,
            )
            == 0
        )
        # Version 1 of the corrected response again, late: the correction stays.
        assert (
            await handlers.alert_response_posted(
                new_uow(pool), corrected, event_id=uuid.uuid4(), links=links
            )
            == 0
        )

        async with pool.acquire() as conn:
            pending = {
                r["event_id"]: (r["status"], r["context"])
                for r in await conn.fetch("SELECT event_id, status, context::text FROM deliveries")
            }
            items = await conn.fetch("SELECT item_key, revision, context::text FROM digest_items")
        status, context = pending[first_ids[corrected.response_id]]
        assert status == "pending" and "Corrected words." in context and '"made"' in context
        status, context = pending[first_ids[removed.response_id]]
        assert status == "cancelled" and "Gone soon." not in context
        assert len(pending) == 2
        [item] = items
        assert item["item_key"] == f"response:{corrected.response_id}"
        assert item["revision"] == 2 and "Corrected words." in item["context"]
    finally:
        await pool.close()
