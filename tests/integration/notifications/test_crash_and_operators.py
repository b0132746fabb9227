"""A worker that dies mid-send never causes a second email; operators see what failed
(`GET /v1/deliveries`, `/metrics`); the unsubscribe page's form works without login."""

from __future__ import annotations

import asyncio
import re
import uuid
from email.message import EmailMessage
from typing import Any

import pytest

from candour_common.auth import Role
from candour_notifications.domain import UnsubscribeScope, UnsubscribeTarget, sign_unsubscribe
from tests.infra import MailSink
from tests.integration.notifications.conftest import (
    SECRET,
    Publisher,
    ServiceFactory,
    approved,
    auth,
    eventually,
)

pytestmark = pytest.mark.integration


class DyingMailer:
    """Takes the message and never returns: the process dies before SMTP answers."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def send(self, message: EmailMessage) -> None:
        self.started.set()
        await asyncio.Event().wait()


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in /metrics")


async def test_a_crash_between_claim_and_send_never_sends_twice(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    dying = DyingMailer()
    async with notifications(smtp_port=smtp_server.port, mailer=dying) as first_life:
        await first_life.subscribe("ward@crash.example")
        interrupted = await publish(approved(title="Sent while the worker died"))
        await asyncio.wait_for(dying.started.wait(), timeout=45)
        # The claim is committed before SMTP starts; then the process "dies".
        rows = await first_life.fetch(
            "SELECT status FROM deliveries WHERE event_id = $1", interrupted.id
        )
        assert [r["status"] for r in rows] == ["sending"]
    database_url = first_life.database_url

    # Restart with a working mail server: the interrupted email is given up, not resent.
    async with notifications(
        smtp_port=smtp_server.port,
        database_url=database_url,
        delivery_stale_after_seconds=0.2,
    ) as restarted:

        async def given_up() -> Any:
            rows = await restarted.fetch(
                "SELECT status, last_error FROM deliveries WHERE event_id = $1", interrupted.id
            )
            return rows[0]["status"] == "failed" and rows[0]

        failed = await eventually(given_up)
        assert "interrupted" in failed["last_error"]

        later = await publish(approved(title="After the restart"))
        [mail] = await smtp_server.wait_for("ward@crash.example", timeout=45)
        assert "After the restart" in mail.text()
        rows = await restarted.fetch("SELECT status FROM deliveries WHERE event_id = $1", later.id)
        assert [r["status"] for r in rows] == ["sent"]

        # Operators see the failed email (with its recipient); others may not look.
        listed = await restarted.client.get(
            "/v1/deliveries?state=failed&limit=10", headers=auth(Role.OPERATOR, None)
        )
        assert listed.status_code == 200, listed.text
        [shown] = listed.json()
        assert shown["state"] == "failed"
        assert shown["recipient"] == "ward@crash.example"
        assert shown["kind"] == "story_alert"
        assert shown["attempts"] == 1
        everything = await restarted.client.get("/v1/deliveries", headers=auth(Role.OPERATOR, None))
        assert sorted(d["state"] for d in everything.json()) == ["failed", "sent"]
        assert (
            await restarted.client.get("/v1/deliveries?state=failed", headers=auth())
        ).status_code == 403
        assert (await restarted.client.get("/v1/deliveries")).status_code == 401
        bad = await restarted.client.get(
            "/v1/deliveries?state=lost&limit=0", headers=auth(Role.OPERATOR, None)
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert {e["field"] for e in bad.json()["errors"]} == {"query.state", "query.limit"}

        scraped = await restarted.client.get("/metrics")
        assert scraped.status_code == 200
        text = scraped.text
        assert metric(text, "candour_notifications_deliveries", state="failed") == 1
        assert metric(text, "candour_notifications_deliveries", state="sent") == 1
        assert metric(text, "candour_notifications_deliveries", state="pending") == 0
        assert (
            metric(
                text,
                "candour_notifications_delivery_attempts_total",
                kind="story_alert",
                outcome="sent",
            )
            == 1
        )
        assert "ward@crash.example" not in text
        # The platform's own metrics are still there.
        assert "candour_http_requests_total" in text

    # Only the email after the restart ever reached the server.
    assert len(smtp_server.to("ward@crash.example")) == 1


async def test_the_unsubscribe_page_form_unsubscribes_without_login(
    notifications: ServiceFactory, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        created = await service.subscribe("form@riverside.example", frequency="daily")
        token = sign_unsubscribe(
            SECRET, UnsubscribeTarget(UnsubscribeScope.SUBSCRIPTION, uuid.UUID(created["id"]))
        )
        page = await service.client.get(f"/v1/unsubscribe?token={token}")
        assert page.status_code == 200
        # Showing the page (what link scanners do) changes nothing.
        rows = await service.fetch("SELECT active FROM subscriptions")
        assert [r["active"] for r in rows] == [True]

        form = re.search(r'<form method="post" action="([^"]+)">', page.text)
        assert form is not None
        action = form.group(1).replace("&amp;", "&")
        answer = await service.client.post(
            action,
            data={"List-Unsubscribe": "One-Click"},  # what the form's hidden field submits
        )
        assert answer.status_code == 200
        assert "You are unsubscribed" in answer.text
        rows = await service.fetch("SELECT active FROM subscriptions")
        assert [r["active"] for r in rows] == [False]
