"""A worker that dies mid-send: the email is sent again, once, after the lease; operators
see what failed (`GET /v1/deliveries`, `/metrics`); the unsubscribe page's form works
without login."""

from __future__ import annotations

import asyncio
import re
import uuid
from email.message import EmailMessage
from typing import Any

import pytest

from candour_common.auth import Role
from candour_notifications.adapters.mailer import PermanentDeliveryError
from candour_notifications.domain import UnsubscribeScope, UnsubscribeTarget, sign_unsubscribe
from tests.infra import MailSink, admin_get
from tests.integration.notifications.conftest import (
    UNSUBSCRIBE_SECRET,
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


class RefusingMailer:
    """Every message is refused for good (a 5xx reply)."""

    async def send(self, message: EmailMessage) -> None:
        raise PermanentDeliveryError("550 mailbox unavailable")


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in /metrics")


async def test_an_email_interrupted_by_a_crash_is_sent_again_exactly_once(
    notifications: ServiceFactory, publish: Publisher, smtp_server: MailSink
) -> None:
    dying = DyingMailer()
    async with notifications(smtp_port=smtp_server.port, mailer=dying) as first_life:
        await first_life.subscribe("ward@crash.example")
        interrupted = await publish(approved(title="Sent while the worker died"))
        await asyncio.wait_for(dying.started.wait(), timeout=45)
        # The claim is committed before SMTP starts; then the process "dies" before the
        # server accepted the message.
        rows = await first_life.fetch(
            "SELECT status FROM deliveries WHERE event_id = $1", interrupted.id
        )
        assert [r["status"] for r in rows] == ["sending"]
    database_url = first_life.database_url

    # Restart with a working mail server: after the lease the email is sent again.
    async with notifications(
        smtp_port=smtp_server.port,
        database_url=database_url,
        # The shortest lease the settings allow: it must outlast any send.
        smtp_timeout=1.0,
        smtp_send_timeout=1.0,
        delivery_stale_after_seconds=6.0,
    ) as restarted:
        [mail] = await smtp_server.wait_for("ward@crash.example", timeout=45)
        assert "Sent while the worker died" in mail.text()

        async def recorded() -> Any:
            rows = await restarted.fetch(
                "SELECT status, attempts FROM deliveries WHERE event_id = $1", interrupted.id
            )
            return rows[0]["status"] == "sent" and rows[0]

        assert (await eventually(recorded))["attempts"] == 2
        await asyncio.sleep(1.0)  # the sweep runs again: still one email
        assert len(smtp_server.to("ward@crash.example")) == 1

    # A server that refuses for good: the email fails, and operators see it.
    async with notifications(
        smtp_port=smtp_server.port, database_url=database_url, mailer=RefusingMailer()
    ) as third_life:
        refused = await publish(approved(title="Refused"))

        async def failed() -> Any:
            rows = await third_life.fetch(
                "SELECT status FROM deliveries WHERE event_id = $1", refused.id
            )
            return bool(rows) and rows[0]["status"] == "failed"

        await eventually(failed)
        listed = await third_life.client.get(
            "/v1/deliveries?state=failed&limit=10", headers=auth(Role.OPERATOR, None)
        )
        assert listed.status_code == 200, listed.text
        [shown] = listed.json()
        assert shown["state"] == "failed"
        assert shown["recipient"] == "ward@crash.example"
        assert shown["kind"] == "story_alert"
        assert shown["attempts"] == 1
        everything = await third_life.client.get(
            "/v1/deliveries", headers=auth(Role.OPERATOR, None)
        )
        assert sorted(d["state"] for d in everything.json()) == ["failed", "sent"]
        assert (
            await third_life.client.get("/v1/deliveries?state=failed", headers=auth())
        ).status_code == 403
        assert (await third_life.client.get("/v1/deliveries")).status_code == 401
        bad = await third_life.client.get(
            "/v1/deliveries?state=lost&limit=0", headers=auth(Role.OPERATOR, None)
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert {e["field"] for e in bad.json()["errors"]} == {"query.state", "query.limit"}

        scraped = await admin_get(third_life.app, "/metrics")
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
                outcome="failed",
            )
            == 1
        )
        assert "ward@crash.example" not in text
        # The platform's own metrics are still there.
        assert "candour_http_requests_total" in text

    # The interrupted email reached the server once; the refused one never did.
    assert len(smtp_server.to("ward@crash.example")) == 1


async def test_the_unsubscribe_page_form_unsubscribes_without_login(
    notifications: ServiceFactory, smtp_server: MailSink
) -> None:
    async with notifications(smtp_port=smtp_server.port) as service:
        created = await service.subscribe("form@riverside.example", frequency="daily")
        token = sign_unsubscribe(
            UNSUBSCRIBE_SECRET,
            UnsubscribeTarget(UnsubscribeScope.SUBSCRIPTION, uuid.UUID(created["id"])),
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
