"""A backlog of story.approved (notifications was down while moderation approved):
read in batches and handled set-based (`handlers.alert_stories_approved`), with the
outcome of one by one. Real Kafka, PostgreSQL and SMTP server."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest

from candour_common.events import StoryWithdrawn
from tests.infra import MailSink
from tests.integration.notifications.conftest import (
    EMERGENCY,
    MATERNITY,
    ORG_A,
    ORG_B,
    Publisher,
    Running,
    ServiceFactory,
    approved,
    eventually,
    submitted,
)

pytestmark = pytest.mark.integration

PLAIN = 24


async def all_handled(service: Running, envelope_ids: list[uuid.UUID]) -> None:
    async def done() -> bool:
        rows = await service.fetch(
            "SELECT 1 FROM inbox WHERE event_id = ANY($1::uuid[])", envelope_ids
        )
        return len(rows) == len(envelope_ids)

    await eventually(done, within=90)


async def test_a_backlog_of_approvals_is_alerted_in_batches_as_one_by_one_would(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    plain = [uuid.uuid4() for _ in range(PLAIN)]
    withdrawn, already, twice, elsewhere, author, early = (uuid.uuid4() for _ in range(6))

    async with notifications(smtp_port=smtp_server.port) as service:
        database_url = service.database_url
        await service.subscribe("all@riverside.example")
        await service.subscribe("ed@riverside.example", service_ids=[EMERGENCY.id])
        await service.subscribe(
            "daily@riverside.example", frequency="daily", service_ids=[MATERNITY.id]
        )
        await service.subscribe("other@hillview.example", organisation_id=ORG_B.id)
        before = [
            await publish(approved(story_id=already)),
            await publish(
                StoryWithdrawn(
                    story_id=withdrawn, withdrawn_at=datetime.now(UTC), organisation_id=ORG_A.id
                )
            ),
            await publish(submitted(author, "author@home.example")),
        ]
        await all_handled(service, [e.id for e in before])

    # Published while notifications is down: it finds them waiting and reads batches.
    backlog = [await publish(approved(story_id=story_id)) for story_id in plain]
    backlog += [
        await publish(approved(story_id=withdrawn)),
        await publish(approved(story_id=twice)),
        await publish(approved(story_id=already, revision=2, service=EMERGENCY)),
        await publish(approved(story_id=twice, revision=2, service=EMERGENCY)),
        await publish(approved(story_id=elsewhere, organisation=ORG_B, service=None)),
        await publish(approved(story_id=author)),
        await publish(approved(story_id=early)),
        await publish(submitted(early, "early@home.example")),  # after its publication
    ]
    async with notifications(smtp_port=smtp_server.port, database_url=database_url) as service:
        await all_handled(service, [e.id for e in backlog])
        await smtp_server.wait_for("early@home.example", timeout=60)

        rows = await service.fetch(
            "SELECT story_id, kind, recipient, created_at FROM deliveries"
            " WHERE story_id IS NOT NULL"
        )
        alerts: dict[uuid.UUID, list[str]] = {}
        for r in rows:
            if r["kind"] == "story_alert":
                alerts.setdefault(r["story_id"], []).append(r["recipient"])
        for story_id in plain:
            assert alerts[story_id] == ["all@riverside.example"]
        assert withdrawn not in alerts
        # Each edit tells only who was not told before: no one twice.
        assert sorted(alerts[already]) == ["all@riverside.example", "ed@riverside.example"]
        assert sorted(alerts[twice]) == ["all@riverside.example", "ed@riverside.example"]
        assert alerts[elsewhere] == ["other@hillview.example"]
        told = Counter(r["recipient"] for r in rows if r["kind"] == "author_published")
        assert told == {"author@home.example": 1, "early@home.example": 1}
        # The backlog was read in batches: the alerts of many stories share a transaction
        # (created_at is the time its transaction began).
        transactions = Counter(
            r["created_at"] for r in rows if r["kind"] == "story_alert" and r["story_id"] in plain
        )
        assert max(transactions.values()) > 1, transactions

        published = await service.fetch("SELECT story_id, revision FROM published_stories")
        revisions = {r["story_id"]: r["revision"] for r in published}
        assert revisions[twice] == 2
        assert revisions[already] == 2
        assert withdrawn not in revisions
        kept = await service.fetch("SELECT story_id, digest_delivery_id FROM digest_items")
        in_digests = {r["story_id"]: r["digest_delivery_id"] for r in kept}
        # The daily (maternity) digest keeps the maternity stories; the edits to
        # Emergency left it (unless the digest went out with revision 1 before the edit,
        # as the restart may send the day's digest).
        assert set(in_digests) - {already} == {*plain, author, early}
        assert already not in in_digests or in_digests[already] is not None
