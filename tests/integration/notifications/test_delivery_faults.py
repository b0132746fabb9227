"""The delivery worker against SMTP servers that misbehave (real aiosmtpd servers, real
Kafka and PostgreSQL).

- A delivery cancelled while its email is in flight (the story was withdrawn) stays
  cancelled when the server then refuses the email for good: it is never turned into
  `failed`, which operators would chase.
- A server so slow that one email takes longer than the resend-if-stuck window never
  gets a second copy: every send is bounded by `smtp_send_timeout`, and the settings
  refuse a window that does not outlast it. Two copies of the service share the
  database, as in production, so the one that did not send would resend.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from candour_common.events import StoryWithdrawn
from candour_notifications.settings import NotificationsSettings
from tests.infra import MailSink
from tests.integration.notifications.conftest import (
    ORG_A,
    Publisher,
    ServiceFactory,
    approved,
    eventually,
    free_port,
    smtp_running,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@dataclass
class RefusesSlowly(MailSink):
    """Holds every RCPT TO for `hold` seconds, then refuses it for good (550)."""

    hold: float = 3.0
    asked: asyncio.Event | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        await asyncio.sleep(self.hold)
        return "550 5.1.1 mailbox unavailable"


@dataclass
class Sluggish(MailSink):
    """Answers EHLO, MAIL, RCPT and the end of DATA `delay` seconds late each (each
    within the client's per-step timeout), then accepts the email."""

    delay: float = 3.0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        await asyncio.sleep(self.delay)
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        await asyncio.sleep(self.delay)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        await asyncio.sleep(self.delay)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


async def test_a_delivery_cancelled_while_in_flight_is_never_marked_failed(
    notifications: ServiceFactory, publish: Publisher
) -> None:
    with smtp_running(RefusesSlowly(host="127.0.0.1", port=free_port())) as server:
        async with notifications(smtp_port=server.port) as service:
            await service.subscribe("ward@cancelled.example")
            story = approved(title="Withdrawn while its alert was being sent")
            alert = await publish(story)

            async def status() -> str | None:
                rows = await service.fetch(
                    "SELECT status FROM deliveries WHERE event_id = $1", alert.id
                )
                return rows[0]["status"] if rows else None

            await eventually(lambda: _is(status, "sending"))
            # The author withdraws while the server is still thinking about RCPT TO.
            await publish(
                StoryWithdrawn(
                    story_id=story.story_id,
                    withdrawn_at=datetime.now(UTC),
                    organisation_id=ORG_A.id,
                )
            )
            await eventually(lambda: _is(status, "cancelled"), within=10)
            # The 550 arrives after the cancellation; the attempt is recorded as over.
            await asyncio.sleep(server.hold + 1.0)  # type: ignore[attr-defined]
            assert await status() == "cancelled"
            rows = await service.fetch(
                "SELECT count(*) AS n FROM deliveries WHERE status = 'failed'"
            )
            assert rows[0]["n"] == 0


async def _is(probe: Any, wanted: str) -> bool:
    return bool(await probe() == wanted)


def test_the_resend_window_must_outlast_a_whole_send() -> None:
    with pytest.raises(ValidationError, match="delivery_stale_after_seconds"):
        NotificationsSettings(
            smtp_timeout=30, smtp_send_timeout=120, delivery_stale_after_seconds=90
        )
    with pytest.raises(ValidationError, match="smtp_send_timeout"):
        NotificationsSettings(smtp_timeout=60, smtp_send_timeout=30)
    defaults = NotificationsSettings()
    assert (
        defaults.delivery_stale_after_seconds > defaults.smtp_send_timeout >= defaults.smtp_timeout
    )


async def test_a_slow_server_never_gets_a_second_copy(
    notifications: ServiceFactory, publish: Publisher
) -> None:
    # Each step answers within the 4 s step timeout, but the email takes 4 x 3 s = 12 s,
    # longer than the 9 s resend window: unbounded, another copy would send it again.
    limits = {
        "smtp_timeout": 4.0,
        "smtp_send_timeout": 4.0,
        "delivery_stale_after_seconds": 9.0,
        "delivery_max_attempts": 2,
        "delivery_backoff_base_seconds": 0.5,
    }
    address = f"ward.{uuid.uuid4().hex[:6]}@slow.example"
    with smtp_running(Sluggish(host="127.0.0.1", port=free_port())) as server:
        async with (
            notifications(smtp_port=server.port, **limits) as first,
            notifications(smtp_port=server.port, database_url=first.database_url, **limits),
        ):
            await first.subscribe(address)
            alert = await publish(approved(title="Sent to a very slow server"))

            async def settled() -> Any:
                rows = await first.fetch(
                    "SELECT status, attempts, last_error FROM deliveries WHERE event_id = $1",
                    alert.id,
                )
                return rows and rows[0]["status"] in ("sent", "failed") and rows[0]

            row = await eventually(settled, within=90)
            # Long enough for a send another copy may have started to finish.
            await asyncio.sleep(5 * server.delay)  # type: ignore[attr-defined]
    # Abandoned at the send deadline and retried: never two copies at the server.
    assert len(server.to(address)) <= 1
    assert row["status"] == "failed"
    assert "Timeout" in (row["last_error"] or "")
