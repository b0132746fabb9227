"""Daily digests, driven by a fake clock: due once a day at 07:00 Europe/London,
one email per subscription listing everything collected since the last one,
nothing when there is nothing, never twice (several copies, restarts)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from candour_common.events import Responder, ResponsePosted, StoryWithdrawn, Tags
from candour_notifications.domain import DigestSchedule
from candour_notifications.service_layer.handlers import prepare_due_digests
from candour_notifications.service_layer.unit_of_work import PostgresNotificationsUnitOfWork
from tests.infra import MailSink
from tests.integration.notifications.conftest import (
    EMERGENCY,
    MATERNITY,
    ORG_A,
    ORG_B,
    FakeClock,
    Publisher,
    Running,
    ServiceFactory,
    approved,
    eventually,
    free_port,
)

pytestmark = pytest.mark.integration

LONDON = ZoneInfo("Europe/London")
SCHEDULE = DigestSchedule(at=datetime.min.time().replace(hour=7), timezone=LONDON)
# 14 January: winter, so London is UTC+0; the summer test below checks UTC+1.
MORNING = datetime(2025, 1, 14, 6, 30, tzinfo=LONDON)
DIGEST_SETTINGS: dict[str, Any] = {"digest_check_interval": 0.05}


def new_uow(pool: asyncpg.Pool) -> PostgresNotificationsUnitOfWork:
    """A unit of work as bootstrap wires it, on the test's own pool."""
    return PostgresNotificationsUnitOfWork(pool, service="notifications")


async def consumed(service: Running, *event_ids: uuid.UUID) -> None:
    async def all_in_inbox() -> bool:
        rows = await service.fetch(
            "SELECT event_id FROM inbox WHERE event_id = ANY($1::uuid[])", list(event_ids)
        )
        return len(rows) == len(event_ids)

    await eventually(all_in_inbox)


async def digests(service: Running) -> list[tuple[str, str, str]]:
    rows = await service.fetch(
        """
        SELECT recipient, digest_date::text AS day, status FROM deliveries
        WHERE digest_date IS NOT NULL ORDER BY digest_date, recipient
        """
    )
    return [(r["recipient"], r["day"], r["status"]) for r in rows]


async def all_sent(service: Running) -> bool:
    rows = await service.fetch(
        "SELECT 1 FROM deliveries WHERE status IN ('pending', 'sending') LIMIT 1"
    )
    return not rows


def html_of(mail: Any) -> str:
    parts = {p.get_content_type(): p for p in mail.message.walk()}
    return str(parts["text/html"].get_payload(decode=True).decode())


def plain_of(mail: Any) -> str:
    parts = {p.get_content_type(): p for p in mail.message.walk()}
    return str(parts["text/plain"].get_payload(decode=True).decode())


def response_to(story_id: uuid.UUID, body: str) -> ResponsePosted:
    return ResponsePosted(
        story_id=story_id,
        response_id=uuid.uuid4(),
        posted_at=datetime.now(UTC),
        organisation=ORG_A,
        responder=Responder(display_name="Alex Jones", role="Ward manager"),
        body=body,
    )


async def test_one_digest_a_day_listing_everything_since_the_last(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    clock = FakeClock(MORNING)
    async with notifications(smtp_port=smtp_server.port, clock=clock, **DIGEST_SETTINGS) as service:
        everything = await service.subscribe("digest@riverside.example", frequency="daily")
        await service.subscribe(
            "maternity-digest@riverside.example",
            frequency="daily",
            service_ids=[MATERNITY.id],
            min_criticality=3,
        )
        await service.subscribe(
            "quiet-digest@hillview.example", organisation_id=ORG_B.id, frequency="daily"
        )
        await service.subscribe(
            "responses-digest@riverside.example", frequency="daily", kind="responses"
        )

        # Overnight: three stories and a response; one story is then withdrawn.
        first = approved(
            title="Night <b>shift</b>",
            body='Kind staff.\n<script>alert("x")</script>',
            service=MATERNITY,
            criticality=4,
            tags=Tags(good=["kind staff"]),
        )
        second = approved(title="Long wait in A&E", service=EMERGENCY, criticality=1)
        withdrawn = approved(title="Withdrawn later", service=MATERNITY, criticality=5)
        sent = [await publish(s) for s in (first, second, withdrawn)]
        answered = await publish(response_to(first.story_id, "We are <em>sorry</em>."))
        await consumed(service, *(e.id for e in sent), answered.id)
        gone = await publish(
            StoryWithdrawn(
                story_id=withdrawn.story_id,
                withdrawn_at=datetime.now(UTC),
                organisation_id=ORG_A.id,
            )
        )
        await consumed(service, gone.id)

        # Before 07:00 nothing is due, however often the check runs.
        assert await prepare_due_digests(new_uow(service.pool), clock, SCHEDULE) == 0
        assert await digests(service) == []
        assert smtp_server.messages == []

        # 07:00: one email per subscription that has something, listing all of it.
        clock.set(MORNING.replace(hour=7, minute=0))
        [digest] = await smtp_server.wait_for("digest@riverside.example", timeout=45)
        [maternity] = await smtp_server.wait_for("maternity-digest@riverside.example", timeout=45)
        [responses] = await smtp_server.wait_for("responses-digest@riverside.example", timeout=45)
        await eventually(lambda: all_sent(service))
        assert smtp_server.to("quiet-digest@hillview.example") == []
        assert await digests(service) == [
            ("digest@riverside.example", "2025-01-14", "sent"),
            ("maternity-digest@riverside.example", "2025-01-14", "sent"),
            ("responses-digest@riverside.example", "2025-01-14", "sent"),
        ]

        assert " ".join(digest.subject.split()) == (
            "Daily digest: 2 new stories about Riverside Hospitals NHS Trust"
        )
        html, text = html_of(digest), plain_of(digest)
        for body in (html, text):
            assert "Tuesday 14 January 2025" in body
            assert f"http://search.test/stories/{first.story_id}" in body
            assert f"http://search.test/stories/{second.story_id}" in body
            assert f"http://intake.test/respond/{first.story_id}" in body
            assert "/v1/stories" not in body
            assert "Withdrawn later" not in body
            assert str(withdrawn.story_id) not in body
        assert "Night &lt;b&gt;shift&lt;/b&gt;" in html
        assert "<script>" not in html
        assert "&lt;script&gt;" in html
        assert "Long wait in A&amp;E" in html
        assert "Night <b>shift</b>" in text
        assert digest.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        assert " ".join(maternity.subject.split()) == (
            "Daily digest: 1 new story about Riverside Hospitals NHS Trust"
        )
        assert f"/stories/{first.story_id}" in plain_of(maternity)
        assert f"/stories/{second.story_id}" not in plain_of(maternity)
        assert "We are &lt;em&gt;sorry&lt;/em&gt;." in html_of(responses)
        assert " ".join(responses.subject.split()) == (
            "Daily digest: 1 response from Riverside Hospitals NHS Trust"
        )

        # Later the same day: a new story waits for tomorrow; no second digest today.
        clock.set(MORNING.replace(hour=18))
        evening = approved(title="Evening story", service=EMERGENCY, criticality=2)
        await consumed(service, (await publish(evening)).id)
        assert await prepare_due_digests(new_uow(service.pool), clock, SCHEDULE) == 0
        assert len(await digests(service)) == 3
        waiting = await service.fetch(
            "SELECT subscription_id FROM digest_items WHERE digest_delivery_id IS NULL"
        )
        assert [str(r["subscription_id"]) for r in waiting] == [everything["id"]]

        # The maternity digest's one-click unsubscribe stops its digests.
        url = urlsplit(maternity.message["List-Unsubscribe"].strip("<>"))
        answer = await service.client.post(
            f"{url.path}?{url.query}", content="List-Unsubscribe=One-Click"
        )
        assert answer.status_code == 200
        late_maternity = approved(title="Late maternity", service=MATERNITY, criticality=5)
        await consumed(service, (await publish(late_maternity)).id)

        # Next morning: only what came since yesterday's digest.
        clock.set(MORNING.replace(hour=7) + timedelta(days=1))
        await smtp_server.wait_for("digest@riverside.example", count=2, timeout=45)
        await eventually(lambda: all_sent(service))
        tomorrow = smtp_server.to("digest@riverside.example")[1]
        assert "Evening story" in plain_of(tomorrow)
        assert "Late maternity" in plain_of(tomorrow)
        assert "Night <b>shift</b>" not in plain_of(tomorrow)
        assert [d for d in await digests(service) if d[1] == "2025-01-15"] == [
            ("digest@riverside.example", "2025-01-15", "sent")
        ]
        assert len(smtp_server.to("maternity-digest@riverside.example")) == 1
        assert len(smtp_server.to("responses-digest@riverside.example")) == 1

        # A day with nothing new: nothing is sent.
        clock.set(MORNING.replace(hour=9) + timedelta(days=2))
        assert await prepare_due_digests(new_uow(service.pool), clock, SCHEDULE) == 0
        assert len(await digests(service)) == 4
        assert len(smtp_server.messages) == 4


async def test_two_copies_and_a_restart_send_one_digest(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    # Summer: London is UTC+1, so 07:00 local is 06:00 UTC.
    clock = FakeClock(datetime(2025, 7, 1, 5, 59, tzinfo=UTC))
    async with notifications(
        smtp_port=smtp_server.port, clock=clock, **DIGEST_SETTINGS
    ) as first_copy:
        await first_copy.subscribe("digest@riverside.example", frequency="daily")
        story = approved(title="Summer story")
        await consumed(first_copy, (await publish(story)).id)
        async with notifications(
            smtp_port=smtp_server.port,
            clock=clock,
            database_url=first_copy.database_url,
            **DIGEST_SETTINGS,
        ):
            assert await prepare_due_digests(new_uow(first_copy.pool), clock, SCHEDULE) == 0
            clock.set(datetime(2025, 7, 1, 6, 0, tzinfo=UTC))
            # Both copies' schedulers race for it (and so does this direct call).
            await prepare_due_digests(new_uow(first_copy.pool), clock, SCHEDULE)
            await smtp_server.wait_for("digest@riverside.example", timeout=45)
            await eventually(lambda: all_sent(first_copy))
            assert await prepare_due_digests(new_uow(first_copy.pool), clock, SCHEDULE) == 0
        database_url = first_copy.database_url

    # A restart later that morning finds today's digest done.
    clock.set(datetime(2025, 7, 1, 9, 0, tzinfo=UTC))
    async with notifications(
        smtp_port=smtp_server.port, clock=clock, database_url=database_url, **DIGEST_SETTINGS
    ) as restarted:
        assert await prepare_due_digests(new_uow(restarted.pool), clock, SCHEDULE) == 0
        assert await digests(restarted) == [("digest@riverside.example", "2025-07-01", "sent")]
    assert len(smtp_server.to("digest@riverside.example")) == 1


async def test_a_withdrawn_story_leaves_a_digest_not_yet_sent(
    notifications: ServiceFactory, publish: Publisher
) -> None:
    clock = FakeClock(datetime(2025, 1, 14, 6, 0, tzinfo=LONDON))
    # Nothing listens on this SMTP port and the backoff is long: digests stay pending.
    async with notifications(
        smtp_port=free_port(),
        clock=clock,
        delivery_backoff_base_seconds=3600,
        **DIGEST_SETTINGS,
    ) as service:
        await service.subscribe("both@riverside.example", frequency="daily")
        await service.subscribe(
            "only-one@riverside.example", frequency="daily", service_ids=[EMERGENCY.id]
        )
        kept = approved(title="Kept", service=MATERNITY)
        dropped = approved(title="Dropped", service=EMERGENCY)
        await consumed(service, *[(await publish(s)).id for s in (kept, dropped)])
        clock.set(datetime(2025, 1, 14, 7, 0, tzinfo=LONDON))

        async def both_tried_and_waiting() -> Any:
            rows = await service.fetch(
                "SELECT recipient, status, attempts, last_error FROM deliveries"
            )
            waiting = [r for r in rows if r["status"] == "pending" and r["attempts"] >= 1]
            return len(waiting) == 2 or [dict(r) for r in rows]

        await eventually(both_tried_and_waiting)
        gone = await publish(
            StoryWithdrawn(
                story_id=dropped.story_id, withdrawn_at=datetime.now(UTC), organisation_id="RXA"
            )
        )
        await consumed(service, gone.id)
        rows = await service.fetch(
            "SELECT recipient, status, context FROM deliveries ORDER BY recipient"
        )
        states = {r["recipient"]: r["status"] for r in rows}
        assert states == {
            "both@riverside.example": "pending",
            "only-one@riverside.example": "cancelled",
        }
        assert "Dropped" not in "".join(r["context"] for r in rows)
        assert str(dropped.story_id) not in "".join(r["context"] for r in rows)
        assert (
            await service.fetch("SELECT 1 FROM digest_items WHERE story_id = $1", dropped.story_id)
            == []
        )
