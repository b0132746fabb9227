"""Authors hear about responses only if they asked; a withdrawn story's contact is erased.
(Safeguarding alerts: test_safeguarding_alerts.py.)"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from candour_common.events import (
    Responder,
    ResponsePosted,
    StorySubmitted,
    StoryWithdrawn,
)
from tests.infra import MailSink
from tests.integration.notifications.conftest import (
    ORG_A,
    Publisher,
    ServiceFactory,
    approved,
    eventually,
)
from tests.integration.notifications.conftest import (
    submitted as story_submitted,
)

pytestmark = pytest.mark.integration


def submitted(story_id: uuid.UUID, email: str | None, notify: bool) -> StorySubmitted:
    return story_submitted(
        story_id,
        email,
        notify=notify,
        title="My stay",
        body="Private, unmoderated text.",
        display_name="Sam",
    )


def response_to(story_id: uuid.UUID, body: str = "Thank you for telling us.") -> ResponsePosted:
    return ResponsePosted(
        story_id=story_id,
        response_id=uuid.uuid4(),
        posted_at=datetime.now(UTC),
        organisation=ORG_A,
        responder=Responder(display_name="Alex Jones", role="Ward manager"),
        body=body,
    )


async def test_author_and_responses_subscribers_hear_about_a_response(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        await service.subscribe("responses@riverside.example", kind="responses")
        asked = uuid.uuid4()
        silent = uuid.uuid4()
        await publish(submitted(asked, "author@home.example", notify=True))
        await publish(submitted(silent, "quiet@home.example", notify=False))
        story = approved(story_id=asked, title="Long <wait>")
        await publish(story)

        async def contact_stored() -> bool:
            # Both addresses are kept (a safeguarding alert may need either); only the
            # author who asked hears about responses.
            rows = await service.fetch("SELECT story_id FROM author_contacts")
            return {r["story_id"] for r in rows} == {asked, silent}

        await eventually(contact_stored)
        # The author is told it is published first (tests/.../test_author_outcomes.py).
        await smtp_server.wait_for("author@home.example", timeout=45)
        await publish(response_to(asked, body="We are <em>sorry</em>."))
        _, mail = await smtp_server.wait_for("author@home.example", count=2, timeout=45)
        assert "has responded to your story" in " ".join(mail.subject.split())
        assert "We are &lt;em&gt;sorry&lt;/em&gt;." in mail.text()
        assert mail.message["List-Unsubscribe"]
        await smtp_server.wait_for("responses@riverside.example", timeout=45)

        await publish(response_to(silent))
        await smtp_server.wait_for("responses@riverside.example", count=2, timeout=45)
        assert smtp_server.to("quiet@home.example") == []
        # The staff email never carries the author's address.
        for staff_mail in smtp_server.to("responses@riverside.example"):
            assert "@home.example" not in staff_mail.text()


async def test_withdrawal_erases_the_contact_and_cancels_pending_email(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        await service.subscribe("responses@riverside.example", kind="responses")
        story_id = uuid.uuid4()
        await publish(submitted(story_id, "author@home.example", notify=True))
        await publish(approved(story_id=story_id))

        async def stored() -> bool:
            rows = await service.fetch(
                "SELECT 1 FROM author_contacts WHERE story_id = $1", story_id
            )
            return bool(rows)

        await eventually(stored)
        await publish(
            StoryWithdrawn(
                story_id=story_id, withdrawn_at=datetime.now(UTC), organisation_id=ORG_A.id
            )
        )

        async def erased() -> bool:
            contacts = await service.fetch(
                "SELECT 1 FROM author_contacts WHERE story_id = $1", story_id
            )
            stories = await service.fetch(
                "SELECT 1 FROM published_stories WHERE story_id = $1", story_id
            )
            return not contacts and not stories

        await eventually(erased)
        # A late copy of story.submitted (topics are not ordered with each other)
        # must not bring the address back, and a response finds no one to tell.
        late = await publish(submitted(story_id, "author@home.example", notify=True))
        answered = await publish(response_to(story_id))

        async def consumed() -> bool:
            rows = await service.fetch(
                "SELECT event_id FROM inbox WHERE event_id = ANY($1::uuid[])",
                [late.id, answered.id],
            )
            return len(rows) == 2

        await eventually(consumed)
        assert await service.fetch("SELECT 1 FROM author_contacts") == []
        # Nobody is emailed about a withdrawn story after its withdrawal: not the author,
        # not staff. Before it, the author may have been told it was published; that
        # email keeps no address and no words of it.
        rows = await service.fetch("SELECT kind, recipient, context::text AS c FROM deliveries")
        assert [r["kind"] for r in rows] in ([], ["author_published"])
        assert all(r["recipient"].startswith("erased:") and r["c"] == "{}" for r in rows)
        assert all(m.envelope_to == ["author@home.example"] for m in smtp_server.messages)
        assert all("has responded" not in m.subject for m in smtp_server.messages)


class WithdrawingMailer:
    """Accepts every message; while taking the first, the story is withdrawn (and the
    withdrawal committed) before it answers: the rest of the fan-out is now unowed."""

    def __init__(self, withdraw: Callable[[], Awaitable[None]]) -> None:
        self.sent: list[str] = []
        self._withdraw = withdraw

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(str(message["To"]))
        if len(self.sent) == 1:
            await self._withdraw()


async def test_a_story_withdrawn_mid_fan_out_gets_no_more_emails_sent(
    notifications: ServiceFactory, publish: Publisher
) -> None:
    """The worker claims a whole batch at once: emails claimed but not yet sent when the
    story is withdrawn are not sent (each is checked again before its turn)."""
    story_id = uuid.uuid4()
    staff = [f"ward{i}@riverside.example" for i in range(5)]

    async def withdraw() -> None:
        await publish(
            StoryWithdrawn(
                story_id=story_id, withdrawn_at=datetime.now(UTC), organisation_id=ORG_A.id
            )
        )

        async def cancelled() -> bool:
            rows = await service.fetch(
                "SELECT 1 FROM deliveries WHERE story_id = $1 AND status = 'cancelled'", story_id
            )
            return len(rows) == len(staff)

        await eventually(cancelled)

    mailer = WithdrawingMailer(withdraw)
    # One lane, and a batch that claims every alert of the story at once.
    async with notifications(smtp_port=1, mailer=mailer, delivery_batch_size=10) as service:
        for email in staff:
            await service.subscribe(email)
        await publish(approved(story_id=story_id))

        async def settled() -> bool:
            rows = await service.fetch(
                "SELECT status FROM deliveries WHERE story_id = $1", story_id
            )
            return len(rows) == len(staff) and all(r["status"] == "cancelled" for r in rows)

        await eventually(settled)
        await asyncio.sleep(1.0)  # the worker has looked again meanwhile
        assert len(mailer.sent) == 1, mailer.sent
