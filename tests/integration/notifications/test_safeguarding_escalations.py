"""Safeguarding escalations seen from moderation: raised at intake or by a moderator, and
followed in the API and the console as notifications reports back (safeguarding.updated):
alerted whom, acknowledged by whom, re-alerted, and erased on withdrawal."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from candour_common.auth import Role, issue_token
from candour_common.events import StoryWithdrawn
from candour_common.topics import TopicNames
from tests.infra import MailSink
from tests.integration.notifications.conftest import ORG_A, ORG_B, SECRET, Publisher, ServiceFactory
from tests.integration.notifications.test_safeguarding_alerts import ack_token
from tests.integration.notifications.test_safeguarding_reaches_someone import (
    CONTACT,
    DUTY,
    MODERATOR,
    Both,
    both,
    decide,
    queued,
    story,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CALM = "The midwives were kind and explained everything."


async def escalation_in(
    client: httpx.AsyncClient, story_id: uuid.UUID, state: str, index: int = 0
) -> dict[str, Any]:
    """The story's escalation `index` once moderation shows it in `state`."""
    for _ in range(300):
        detail = await queued(client, story_id)
        escalations = detail["escalations"]
        if len(escalations) > index and escalations[index]["state"] == state:
            return dict(escalations[index])
        await asyncio.sleep(0.15)
    raise AssertionError(f"escalation never reached {state}: {detail['escalations']}")


async def console_page(client: httpx.AsyncClient, story_id: uuid.UUID) -> str:
    form = await client.get("/console/sign-in")
    token = issue_token(SECRET, role=Role.MODERATOR, subject="mod-alice")
    found = CSRF.search(form.text)
    assert found
    signed = await client.post(
        "/console/sign-in", data={"csrf_token": found.group(1), "token": token}
    )
    assert signed.status_code == 303
    page = await client.get(f"/console/stories/{story_id}")
    assert page.status_code == 200
    return " ".join(page.text.split())


@pytest.fixture
async def platform(
    notifications: ServiceFactory,
    create_database: Any,
    kafka_bootstrap: str,
    topics: TopicNames,
    smtp_server: MailSink,
) -> Any:
    async with both(
        notifications,
        create_database,
        kafka_bootstrap,
        topics,
        smtp_server,
        safeguarding_ack_timeout_seconds=4.0,
        safeguarding_check_interval=0.2,
    ) as running:
        yield running


async def test_a_pending_match_alerts_at_once_and_the_console_follows_it_to_acknowledgement(
    platform: Both, publish: Publisher, smtp_server: MailSink
) -> None:
    submitted = story()
    await publish(submitted)
    [mail] = await smtp_server.wait_for(CONTACT, timeout=60)  # no decision yet
    alerted = await escalation_in(platform.moderation, submitted.story_id, "alerted")
    assert alerted["trigger"] == "screening"
    assert alerted["alerted_to"] == [CONTACT]
    assert alerted["to_duty_moderators"] is False
    done = await platform.notifications.client.post(
        "/v1/safeguarding/acknowledge", params={"token": ack_token(mail)}
    )
    assert done.status_code == 200
    acknowledged = await escalation_in(platform.moderation, submitted.story_id, "acknowledged")
    assert acknowledged["acknowledged_by"] == CONTACT
    detail = await queued(platform.moderation, submitted.story_id)
    actions = [a["action"] for a in detail["audit"]]
    assert actions == [
        "received",
        "safeguarding_raised",
        "safeguarding_alerted",
        "safeguarding_acknowledged",
    ]
    page = await console_page(platform.moderation, submitted.story_id)
    assert "Safeguarding escalations" in page
    assert "Alerted" in page and CONTACT in page
    assert "Acknowledged" in page
    # Past the timeout: an acknowledged alert is never sent to the duty moderators.
    await asyncio.sleep(5.0)
    assert smtp_server.to(DUTY) == []


async def test_a_moderator_raises_safeguarding_with_a_note_on_an_approved_story(
    platform: Both, publish: Publisher, smtp_server: MailSink
) -> None:
    submitted = story(CALM)
    await publish(submitted)
    await queued(platform.moderation, submitted.story_id)
    await decide(platform.moderation, submitted.story_id, {"decision": "approve", "criticality": 0})
    path = f"/v1/queue/{submitted.story_id}/safeguarding"
    empty = await platform.moderation.post(path, headers=MODERATOR, json={"note": "  "})
    assert empty.status_code == 422
    assert empty.headers["content-type"].startswith("application/problem+json")
    assert "body.note" in empty.text
    note = "The author phoned the helpline in distress after this was published."
    raised = await platform.moderation.post(path, headers=MODERATOR, json={"note": note})
    assert raised.status_code == 201, raised.text
    assert raised.json()["state"] == "raised"
    [mail] = await smtp_server.wait_for(CONTACT, timeout=60)
    text = " ".join(mail.text().split())
    assert note in text
    assert CALM in text
    assert "A moderator (mod-alice) raised it" in text
    assert "In moderation it is approved." in text
    escalation = await escalation_in(platform.moderation, submitted.story_id, "alerted")
    assert escalation["note"] == note
    assert escalation["raised_by"] == "mod-alice"


async def test_no_safeguarding_contact_alerts_the_duty_moderators_and_the_console_says_so(
    platform: Both, publish: Publisher, smtp_server: MailSink
) -> None:
    submitted = story().model_copy(update={"organisation": ORG_B})
    await publish(submitted)
    await smtp_server.wait_for(DUTY, timeout=60)
    escalation = await escalation_in(platform.moderation, submitted.story_id, "alerted")
    assert escalation["to_duty_moderators"] is True
    assert escalation["alerted_to"] == [DUTY]
    page = await console_page(platform.moderation, submitted.story_id)
    assert f"{ORG_B.name} has no safeguarding contact" in page
    assert smtp_server.to(CONTACT) == []


async def test_an_alert_not_acknowledged_in_time_is_re_alerted_and_the_console_shows_it(
    platform: Both, publish: Publisher, smtp_server: MailSink
) -> None:
    submitted = story()
    await publish(submitted)
    await smtp_server.wait_for(CONTACT, timeout=60)
    [realert] = await smtp_server.wait_for(DUTY, timeout=60)
    assert "NOT ACKNOWLEDGED" in " ".join(realert.subject.split())
    escalation = await escalation_in(platform.moderation, submitted.story_id, "realerted")
    assert escalation["realerted_to"] == [DUTY]
    page = await console_page(platform.moderation, submitted.story_id)
    assert "Re-alerted" in page and DUTY in page
    detail = await queued(platform.moderation, submitted.story_id)
    assert "safeguarding_realerted" in [a["action"] for a in detail["audit"]]


async def test_withdrawal_erases_the_escalations_in_both_services(
    platform: Both, publish: Publisher, smtp_server: MailSink
) -> None:
    marker = f"marmot{uuid.uuid4().hex[:8]}"
    submitted = story(f"{CALM} {marker}")
    await publish(submitted)
    await queued(platform.moderation, submitted.story_id)
    raised = await platform.moderation.post(
        f"/v1/queue/{submitted.story_id}/safeguarding",
        headers=MODERATOR,
        json={"note": f"Worried: {marker}"},
    )
    assert raised.status_code == 201
    await escalation_in(platform.moderation, submitted.story_id, "alerted")
    await publish(
        StoryWithdrawn(
            story_id=submitted.story_id, withdrawn_at=datetime.now(UTC), organisation_id=ORG_A.id
        )
    )
    for _ in range(300):
        detail = await queued(platform.moderation, submitted.story_id)
        if detail["status"] == "withdrawn":
            break
        await asyncio.sleep(0.15)
    [escalation] = detail["escalations"]
    assert escalation["note"] is None
    assert escalation["alerted_to"] == [CONTACT]  # who was told stays, not what
    assert marker not in str(detail)

    async def alert_erased() -> bool:
        rows = await platform.notifications.fetch(
            "SELECT context::text AS c FROM safeguarding_alerts"
        )
        return bool(rows) and all(marker not in r["c"] for r in rows)

    for _ in range(300):
        if await alert_erased():
            break
        await asyncio.sleep(0.15)
    assert await alert_erased()
    # Raising safeguarding on a withdrawn story: nothing left to send.
    again = await platform.moderation.post(
        f"/v1/queue/{submitted.story_id}/safeguarding", headers=MODERATOR, json={"note": "x"}
    )
    assert again.status_code == 409
