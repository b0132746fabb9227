"""The walking skeleton: four services as separate processes, real Kafka, PostgreSQL and SMTP.

submit (story-intake) -> story.submitted -> queue (moderation) -> approve over HTTP
-> story.approved -> searchable (search) and emailed to the trust (notifications).
"""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from candour_common.auth import Role, issue_token
from candour_common.runtime import migrate_database
from candour_common.topics import TopicNames
from candour_intake.adapters import repository
from candour_intake.domain import Organisation, Service
from tests.conftest import free_port
from tests.infra import MailSink
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SECRET = "e2e-secret-0123456789abcdef0123456789abcdef"
UNSUBSCRIBE_SECRET = "e2e-unsubscribe-0123456789abcdef0123456789ab"
TRUST = Organisation(
    id="TAD",
    name="Bradford District Care NHS Foundation Trust",
    type="nhs_trust",
    services=(Service(id="TAD-CMHT", name="Community mental health team"),),
)


@pytest.fixture
async def platform(
    create_database, kafka_bootstrap: str, topics: TopicNames, smtp_server: MailSink, tmp_path: Path
) -> AsyncIterator[dict[str, ServiceProcess]]:
    databases = {
        name: await create_database(name.replace("-", "_"))
        for name in ("story-intake", "moderation", "notifications", "search")
    }
    await migrate_database(databases["story-intake"], "candour_intake.migrations")
    conn = await asyncpg.connect(databases["story-intake"])
    try:
        await repository.PostgresDirectory(conn).upsert(TRUST)
    finally:
        await conn.close()
    common = {
        "CANDOUR_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CANDOUR_TOPIC_PREFIX": topics.prefix,
        "CANDOUR_JWT_SECRET": SECRET,
        "CANDOUR_UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET,
        "CANDOUR_SMTP_HOST": smtp_server.host,
        "CANDOUR_SMTP_PORT": str(smtp_server.port),
        "CANDOUR_OUTBOX_POLL_INTERVAL": "0.5",
    }
    services = {
        name: ServiceProcess(
            name=name,
            port=free_port(),
            env={**common, "CANDOUR_DATABASE_URL": databases[name]},
            log_path=tmp_path / f"{name}.log",
        )
        for name in databases
    }
    services["notifications"].env["CANDOUR_SEARCH_PUBLIC_URL"] = services["search"].url
    for service in services.values():
        service.start()
    try:
        await asyncio.gather(*(s.wait_ready() for s in services.values()))
        yield services
    finally:
        codes = {name: s.stop(signal.SIGTERM) for name, s in services.items()}
        for name, service in services.items():
            print(f"----- {name} log (exit {codes[name]}) -----\n{service.logs()[-6000:]}")


async def _poll(fetch, *, timeout: float = 60, what: str):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await fetch()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)


async def test_story_travels_from_submission_to_search_and_the_trusts_inbox(
    platform: dict[str, ServiceProcess], smtp_server: MailSink
) -> None:
    intake, moderation, notifications, search = (
        platform["story-intake"],
        platform["moderation"],
        platform["notifications"],
        platform["search"],
    )
    operator = {"Authorization": "Bearer " + issue_token(SECRET, role=Role.OPERATOR, subject="op")}
    moderator = {
        "Authorization": "Bearer " + issue_token(SECRET, role=Role.MODERATOR, subject="mo")
    }
    marker = f"zebracrossing{uuid.uuid4().hex[:8]}"
    correlation_id = f"e2e-{uuid.uuid4().hex}"

    async with httpx.AsyncClient(timeout=10) as http:
        subscription = await http.post(
            f"{notifications.url}/v1/subscriptions",
            headers=operator,
            json={
                "email": "alerts@trust.example",
                "organisation_id": "TAD",
                "frequency": "immediate",
                "kind": "stories",
            },
        )
        assert subscription.status_code == 201, subscription.text

        submitted = await http.post(
            f"{intake.url}/v1/stories",
            headers={"X-Correlation-ID": correlation_id},
            json={
                "title": "Listened to at last",
                "body": f"The {marker} team listened and called me back the same day.",
                "organisation_id": "TAD",
                "service_id": "TAD-CMHT",
                "author": {
                    "display_name": "Sam",
                    "relationship": "patient",
                    "email": "sam.private@example.org",
                    "notify_on_response": True,
                },
            },
        )
        assert submitted.status_code == 201, submitted.text
        story_id = submitted.json()["story_id"]

        async def queued() -> dict | None:
            items = (await http.get(f"{moderation.url}/v1/queue", headers=moderator)).json()[
                "items"
            ]
            return next((i for i in items if i["story_id"] == story_id), None)

        item = await _poll(queued, what="the story in the moderation queue")
        assert item["status"] == "pending"
        assert item["organisation"]["id"] == "TAD"
        assert "screening" in item

        decision = await http.post(
            f"{moderation.url}/v1/queue/{story_id}/decision",
            headers=moderator,
            json={"decision": "approve", "criticality": 1},
        )
        assert decision.status_code in (200, 201, 202), decision.text

        async def found() -> dict | None:
            body = (await http.get(f"{search.url}/v1/search", params={"q": marker})).json()
            return body if body["total"] >= 1 else None

        results = await _poll(found, what="the story in search")
        assert results["results"][0]["story_id"] == story_id
        assert results["results"][0]["organisation"]["id"] == "TAD"
        page = await http.get(f"{search.url}/v1/stories/{story_id}")
        assert page.status_code == 200 and marker in page.json()["body"]

    mails = await smtp_server.wait_for("alerts@trust.example", timeout=60)
    assert len(mails) == 1
    mail = mails[0]
    assert "Bradford District Care" in mail.subject
    assert "Listened to at last" in mail.text()
    assert mail.message["List-Unsubscribe"]
    raw = mail.message.as_string()
    assert "sam.private@example.org" not in raw  # the author's contact never reaches staff
    # One correlation id followed the story from the HTTP request into the consumers' logs.
    moderation_lines = [
        json.loads(line) for line in moderation.logs().splitlines() if line.startswith("{")
    ]
    assert any(line.get("correlation_id") == correlation_id for line in moderation_lines)
    assert "sam.private@example.org" not in intake.logs() + moderation.logs()
