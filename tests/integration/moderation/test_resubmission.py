"""Edit and resubmit across story-intake and moderation, on real PostgreSQL and Kafka
(issue 20): a story a moderator rejected, edited by its author through intake's API,
is pending again in moderation with the new text; the audit trail keeps both versions;
a decision on the version the moderator read before is refused; the next rejection
reaches the author's status."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from candour_common.topics import TopicNames
from candour_intake.bootstrap import create_app as create_intake
from candour_intake.settings import IntakeSettings
from candour_moderation.bootstrap import create_app as create_moderation
from tests.infra import serving
from tests.integration.intake.conftest import STORY, seed_intake_database
from tests.integration.intake.test_lifecycle import bearer as author
from tests.integration.intake.test_lifecycle import wait_status
from tests.integration.moderation.test_moderation import (
    ALICE,
    SECRET,
    eventually,
    settings_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

FIRST_BODY = "The nurse on ward 4, Jane Smith, shouted at my mum."
EDITED = {
    "title": "Shouted at on ward 4",
    "body": "A nurse on ward 4 shouted at my mum when she asked for water.",
    "organisation_id": "TAD",
    "service_id": "TAD-CMHT",
}


async def queue_item(client: httpx.AsyncClient, story_id: str) -> dict[str, Any] | None:
    response = await client.get(f"/v1/queue/{story_id}", headers=ALICE)
    return response.json() if response.status_code == 200 else None


async def test_an_edit_after_a_rejection_is_pending_again_with_both_versions_audited(
    create_database, kafka_bootstrap: str, topics: TopicNames
) -> None:
    intake_url = await create_database("intake")
    await seed_intake_database(intake_url)
    intake_settings = IntakeSettings(
        database_url=intake_url,  # type: ignore[arg-type]
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topics.prefix,
        outbox_poll_interval=0.2,
        jwt_secret=SECRET,  # type: ignore[arg-type]
    )
    moderation_settings = await settings_for(create_database, kafka_bootstrap, topics)
    async with (
        serving(create_intake(intake_settings)) as intake,
        serving(create_moderation(moderation_settings)) as moderation,
    ):
        assert isinstance(intake, httpx.AsyncClient)
        assert isinstance(moderation, httpx.AsyncClient)
        created = (await intake.post("/v1/stories", json={**STORY, "body": FIRST_BODY})).json()
        story_id, token = created["story_id"], created["author_token"]
        first = await eventually(lambda: queue_item(moderation, story_id), "the story queued")
        assert first["version"] == 1
        rejected = await moderation.post(
            f"/v1/queue/{story_id}/decision",
            headers=ALICE,
            json={"decision": "reject", "reason": "other", "version": 1},
        )
        assert rejected.status_code == 200, rejected.text
        await wait_status(intake, story_id, token, "rejected")

        edit = await intake.put(f"/v1/stories/{story_id}", json=EDITED, headers=author(token))
        assert edit.status_code == 202, edit.text
        assert edit.json()["version"] == 2

        async def second_version() -> dict[str, Any] | None:
            item = await queue_item(moderation, story_id)
            return item if item and item["version"] == 2 else None

        item = await eventually(second_version, "the edit in moderation")
        assert item["status"] == "pending"
        assert (item["title"], item["body"]) == (EDITED["title"], EDITED["body"])
        assert item["decided_by"] is None
        # Screened again: the new text names nobody, so nothing is suggested for removal.
        assert item["screening"]["redactions"] == []
        trail = [(a["action"], a["detail"]) for a in item["audit"]]
        bodies = [d["body"] for action, d in trail if action in ("received", "resubmitted")]
        assert bodies == [FIRST_BODY, EDITED["body"]]
        decisive = [a for a, _ in trail if a in ("received", "rejected", "resubmitted")]
        assert decisive == ["received", "rejected", "resubmitted"]

        # A decision on version 1 (read before the edit) is refused; on 2 it counts.
        stale = await moderation.post(
            f"/v1/queue/{story_id}/decision",
            headers=ALICE,
            json={"decision": "reject", "reason": "other", "version": 1},
        )
        assert stale.status_code == 409
        assert stale.headers["content-type"] == "application/problem+json"
        again = await moderation.post(
            f"/v1/queue/{story_id}/decision",
            headers=ALICE,
            json={"decision": "reject", "reason": "too_old", "version": 2},
        )
        assert again.status_code == 200, again.text
        status = await wait_status(intake, story_id, token, "rejected")
        assert status["rejection_reason"] == "too_old"
