"""Safeguarding alerts in notifications, on real Kafka, PostgreSQL and SMTP: who gets
them, what they say, the acknowledgement link, the re-alert (several copies running),
redelivery and erasure."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from candour_common.events import (
    PublicAuthor,
    Relationship,
    SafeguardingMatchRef,
    SafeguardingRaised,
    SafeguardingTrigger,
    StorySubmitted,
    StoryWithdrawn,
)
from candour_common.topics import Topic, TopicNames
from tests.infra import MailSink, ReceivedMail, read_topic
from tests.integration.notifications.conftest import (
    MATERNITY,
    ORG_A,
    ORG_B,
    Publisher,
    Running,
    ServiceFactory,
    eventually,
)
from tests.integration.notifications.conftest import submitted as story_submitted

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CONTACT = "safeguarding.lead@riverside.example"
DUTY = "duty@candour.example"
DUTY_CONTACT = "Candour duty moderator, 0300 000 0000"
ACK_LINK = re.compile(r"http://notifications\.test/v1/safeguarding/acknowledge\?token=(\S+)")
SAFEGUARDING = {
    "safeguarding_duty_contact": DUTY_CONTACT,
    "safeguarding_duty_moderators": DUTY,
    "safeguarding_check_interval": 0.2,
}


def raised(
    story_id: uuid.UUID | None = None,
    *,
    organisation: Any = ORG_A,
    note: str | None = None,
    body: str = "I have been saving up my tablets and nobody listened.",
) -> SafeguardingRaised:
    return SafeguardingRaised(
        story_id=story_id or uuid.uuid4(),
        escalation_id=uuid.uuid4(),
        raised_at=datetime.now(UTC),
        trigger=SafeguardingTrigger.MODERATOR if note else SafeguardingTrigger.SCREENING,
        raised_by="mod-alice" if note else "screening",
        note=note,
        organisation=organisation,
        service=MATERNITY,
        submitted_at=datetime.now(UTC),
        status="pending",
        title="Nobody listened",
        body=body,
        author=PublicAuthor(display_name="Sam", relationship=Relationship.PATIENT),
        level="serious",
        matches=[
            SafeguardingMatchRef(
                field="body",
                text="saving up my tablets",
                category="suicide",
                category_label="suicide",
                level="serious",
                reason="means: stockpiling medication",
            )
        ],
    )


def submitted(story_id: uuid.UUID, email: str | None) -> StorySubmitted:
    return story_submitted(
        story_id,
        email,
        title="Nobody listened",
        body="I have been saving up my tablets and nobody listened.",
        display_name="Sam",
    )


def flat(mail: ReceivedMail) -> str:
    return " ".join(mail.text().split())


def ack_token(mail: ReceivedMail) -> str:
    match = ACK_LINK.search(mail.text())
    assert match is not None, "no acknowledgement link in the email"
    return match.group(1)


async def updates(kafka_bootstrap: str, topics: TopicNames, at_least: int) -> list[dict[str, Any]]:
    records = await read_topic(
        kafka_bootstrap, topics.name(Topic.SAFEGUARDING_UPDATED), at_least=at_least, settle=0.5
    )
    return [json.loads(r.value or b"{}") for r in records]


async def test_alert_goes_at_once_with_the_story_matches_note_and_contact_only_if_given(
    notifications: ServiceFactory,
    publish: Publisher,
    smtp_server: MailSink,
    kafka_bootstrap: str,
    topics: TopicNames,
) -> None:
    async with notifications(smtp_port=smtp_server.port, **SAFEGUARDING) as service:
        await service.subscribe(CONTACT, kind="safeguarding")
        with_contact, without = uuid.uuid4(), uuid.uuid4()
        # The author gave an address but did not ask to hear about responses.
        await publish(submitted(with_contact, "sam.private@home.example"))
        await publish(submitted(without, None))

        async def stored() -> bool:
            return bool(await service.fetch("SELECT 1 FROM author_contacts"))

        await eventually(stored)
        await publish(raised(with_contact, note="Author says tonight; please call."))
        await publish(raised(without))
        mails = await smtp_server.wait_for(CONTACT, count=2, timeout=45)
        by_story = {str(s): m for s in (with_contact, without) for m in mails if str(s) in m.text()}
        given, none = flat(by_story[str(with_contact)]), flat(by_story[str(without)])
        for text in (given, none):
            assert "I have been saving up my tablets and nobody listened." in text
            assert '"saving up my tablets" in the body: suicide (serious)' in text
            assert "because: means: stockpiling medication" in text
            assert DUTY_CONTACT in text
        assert "Author says tonight; please call." in given
        assert "sam.private@home.example" in given
        assert "@home.example" not in none
        assert "The author left no contact details." in none
        for mail in mails:
            assert mail.message["List-Unsubscribe"] is None
            assert mail.message["Importance"] == "high"
            assert "unsubscribe?" not in mail.text()
        # Moderation is told who was alerted.
        told = await updates(kafka_bootstrap, topics, 2)
        assert {u["state"] for u in told} == {"alerted"}
        assert all(u["recipients"] == [CONTACT] and not u["to_duty_moderators"] for u in told)
        assert smtp_server.to(DUTY) == []


async def test_an_organisation_without_a_safeguarding_contact_alerts_the_duty_moderators(
    notifications: ServiceFactory,
    publish: Publisher,
    smtp_server: MailSink,
    kafka_bootstrap: str,
    topics: TopicNames,
) -> None:
    async with notifications(smtp_port=smtp_server.port, **SAFEGUARDING) as service:
        await service.subscribe(CONTACT, kind="safeguarding")  # ORG_A's, not ORG_B's
        event = raised(organisation=ORG_B)
        await publish(event)
        [mail] = await smtp_server.wait_for(DUTY, timeout=45)
        assert f"{ORG_B.name} has no safeguarding contact on Candour" in flat(mail)
        [told] = await updates(kafka_bootstrap, topics, 1)
        assert told["state"] == "alerted"
        assert told["recipients"] == [DUTY]
        assert told["to_duty_moderators"] is True
        assert smtp_server.to(CONTACT) == []


async def test_the_link_acknowledges_on_post_only_and_no_re_alert_follows(
    notifications: ServiceFactory,
    publish: Publisher,
    smtp_server: MailSink,
    kafka_bootstrap: str,
    topics: TopicNames,
) -> None:
    async with notifications(
        smtp_port=smtp_server.port, safeguarding_ack_timeout_seconds=6.0, **SAFEGUARDING
    ) as service:
        await service.subscribe(CONTACT, kind="safeguarding")
        event = raised()
        await publish(event)
        [mail] = await smtp_server.wait_for(CONTACT, timeout=45)
        token = ack_token(mail)
        # A mail scanner fetching the link changes nothing: the page only offers a button.
        page = await service.client.get("/v1/safeguarding/acknowledge", params={"token": token})
        assert page.status_code == 200
        assert '<form method="post"' in page.text
        [row] = await service.fetch(
            "SELECT acknowledged_at, extract(epoch FROM realert_due_at - now()) AS due_in"
            " FROM safeguarding_alerts"
        )
        assert row["acknowledged_at"] is None
        due_in = float(row["due_in"])
        done = await service.client.post("/v1/safeguarding/acknowledge", params={"token": token})
        assert done.status_code == 200
        assert "you acknowledged the alert" in done.text
        assert CONTACT in done.text
        again = await service.client.post("/v1/safeguarding/acknowledge", params={"token": token})
        assert "already acknowledged" in again.text
        forged = await service.client.post(
            "/v1/safeguarding/acknowledge", params={"token": token[:-2] + "AA"}
        )
        assert forged.status_code == 400
        assert forged.headers["content-type"].startswith("application/problem+json")
        told = await updates(kafka_bootstrap, topics, 2)
        assert [u["state"] for u in told] == ["alerted", "acknowledged"]
        assert told[1]["acknowledged_by"] == CONTACT
        # Past the timeout: acknowledged alerts are not sent again.
        await asyncio.sleep(max(due_in, 0) + 1.5)
        assert smtp_server.to(DUTY) == []


async def test_an_alert_nobody_acknowledged_goes_once_to_the_duty_moderators_from_any_copy(
    notifications: ServiceFactory,
    create_database: Any,
    publish: Publisher,
    smtp_server: MailSink,
    kafka_bootstrap: str,
    topics: TopicNames,
) -> None:
    settings = {**SAFEGUARDING, "safeguarding_ack_timeout_seconds": 1.0}
    database_url = await create_database("notif")
    # Two copies on one database: both run the re-alert loop.
    async with (
        notifications(smtp_port=smtp_server.port, database_url=database_url, **settings) as first,
        notifications(smtp_port=smtp_server.port, database_url=database_url, **settings),
    ):
        await first.subscribe(CONTACT, kind="safeguarding")
        events = [raised() for _ in range(3)]
        for event in events:
            await publish(event)
        await smtp_server.wait_for(CONTACT, count=3, timeout=45)
        realerts = await smtp_server.wait_for(DUTY, count=3, timeout=45)
        await asyncio.sleep(2.0)  # several more rounds of both loops
        assert len(smtp_server.to(DUTY)) == 3
        for mail in realerts:
            assert " ".join(mail.subject.split()).startswith("URGENT, NOT ACKNOWLEDGED")
            assert f"It went to {CONTACT}" in flat(mail)
            assert mail.message["List-Unsubscribe"] is None
            ack_token(mail)  # a duty moderator may acknowledge it too
        for event in events:
            assert any(str(event.story_id) in m.text() for m in realerts)
        told = await updates(kafka_bootstrap, topics, 6)
        realerted = [u for u in told if u["state"] == "realerted"]
        assert len(realerted) == 3
        assert all(u["recipients"] == [DUTY] for u in realerted)


async def test_redelivery_and_a_second_copy_of_an_escalation_send_nothing_twice(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port, **SAFEGUARDING) as service:
        await service.subscribe(CONTACT, kind="safeguarding")
        event = raised()
        envelope = await publish(event)
        await publish(event, envelope)  # the same record again (redelivery)
        await publish(event)  # the same escalation under a new event id
        await smtp_server.wait_for(CONTACT, timeout=45)

        async def all_consumed() -> bool:
            rows = await service.fetch(
                "SELECT count(*) AS n FROM inbox WHERE topic = $1",
                Topic.SAFEGUARDING_RAISED.value,
            )
            return bool(rows[0]["n"] == 2)

        await eventually(all_consumed)
        await asyncio.sleep(1.0)
        assert len(smtp_server.to(CONTACT)) == 1
        rows = await service.fetch("SELECT count(*) AS n FROM deliveries")
        assert rows[0]["n"] == 1


async def _rows_holding(service: Running, needle: str) -> list[str]:
    conn = await asyncpg.connect(service.database_url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
        found = []
        for table in tables:
            name = table["tablename"]
            rows = await conn.fetch(f'SELECT t::text AS row FROM "{name}" t')
            found += [f"{name}: {r['row'][:120]}" for r in rows if needle in r["row"]]
        return found
    finally:
        await conn.close()


async def test_withdrawal_erases_the_alert_and_stops_its_re_alert(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    marker = f"marmot{uuid.uuid4().hex[:8]}"
    async with notifications(
        smtp_port=smtp_server.port, safeguarding_ack_timeout_seconds=3.0, **SAFEGUARDING
    ) as service:
        await service.subscribe(CONTACT, kind="safeguarding")
        story_id = uuid.uuid4()
        await publish(submitted(story_id, f"{marker}@home.example"))

        async def stored() -> bool:
            return bool(await service.fetch("SELECT 1 FROM author_contacts"))

        await eventually(stored)
        await publish(raised(story_id, note=f"Note {marker}", body=f"Story {marker}"))
        [mail] = await smtp_server.wait_for(CONTACT, timeout=45)
        assert marker in mail.text()
        assert await _rows_holding(service, marker)
        await publish(
            StoryWithdrawn(
                story_id=story_id, withdrawn_at=datetime.now(UTC), organisation_id=ORG_A.id
            )
        )

        async def erased() -> bool:
            return not await _rows_holding(service, marker)

        await eventually(erased)
        [alert] = await service.fetch("SELECT * FROM safeguarding_alerts")
        assert alert["realert_due_at"] is None
        assert alert["recipients"] == [CONTACT]  # who was told stays; the story does not
        page = await service.client.get(
            "/v1/safeguarding/acknowledge", params={"token": ack_token(mail)}
        )
        assert "Nothing to acknowledge" in page.text
        await asyncio.sleep(4.0)  # past the timeout: no re-alert of an erased story
        assert smtp_server.to(DUTY) == []


async def test_screening_an_edited_story_again_does_not_alert_the_contacts_twice(
    notifications: ServiceFactory,
    publish: Publisher,
    smtp_server: MailSink,
    kafka_bootstrap: str,
    topics: TopicNames,
) -> None:
    """Issue #20: the author edits a story that screening matched (a new version), and
    screening matches it again, no more seriously: one alert, and moderation is told the
    same people have it."""
    async with notifications(smtp_port=smtp_server.port, **SAFEGUARDING) as service:
        await service.subscribe(CONTACT, kind="safeguarding")
        story_id = uuid.uuid4()
        await publish(raised(story_id))
        await smtp_server.wait_for(CONTACT, timeout=45)
        edited = raised(story_id, body="I have been saving up my tablets. Edited.")
        envelope = await publish(edited)

        async def consumed() -> bool:
            rows = await service.fetch("SELECT 1 FROM inbox WHERE event_id = $1", envelope.id)
            return bool(rows)

        await eventually(consumed)
        told = [
            u
            for u in await updates(kafka_bootstrap, topics, at_least=2)
            if u["escalation_id"] == str(edited.escalation_id)
        ]
        assert [(u["state"], u["recipients"]) for u in told] == [("alerted", [CONTACT])]
        assert len(smtp_server.to(CONTACT)) == 1
        rows = await service.fetch("SELECT count(*) AS n FROM deliveries")
        assert rows[0]["n"] == 1
