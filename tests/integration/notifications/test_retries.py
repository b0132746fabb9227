"""Temporary SMTP failures are retried with backoff; exactly one email, or a terminal failure."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.infra import MailSink
from tests.integration.notifications.conftest import (
    Publisher,
    ServiceFactory,
    approved,
    eventually,
    free_port,
    smtp_running,
)

pytestmark = pytest.mark.integration


@dataclass
class RefusingSink(MailSink):
    """A real SMTP server that answers 451 (try again later) to the first `refusals` messages."""

    refusals: int = 2
    refused: int = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        if self.refused < self.refusals:
            self.refused += 1
            return "451 4.3.0 Temporary local problem, try again later"
        return await super().handle_DATA(server, session, envelope)


async def test_two_refusals_then_exactly_one_email(
    notifications: ServiceFactory, publish: Publisher
) -> None:
    sink = RefusingSink(host="127.0.0.1", port=free_port(), refusals=2)
    with smtp_running(sink):
        async with notifications(smtp_port=sink.port, delivery_max_attempts=5) as service:
            await service.subscribe("retry@riverside.example")
            envelope = await publish(approved())
            await sink.wait_for("retry@riverside.example", timeout=45)

            async def settled() -> list[tuple[str, int]]:
                rows = await service.fetch(
                    "SELECT status, attempts FROM deliveries WHERE event_id = $1", envelope.id
                )
                return [(r["status"], r["attempts"]) for r in rows if r["status"] == "sent"]

            assert await eventually(settled) == [("sent", 3)]
            assert sink.refused == 2
            assert len(sink.to("retry@riverside.example")) == 1


async def test_a_server_that_keeps_refusing_ends_in_failed(
    notifications: ServiceFactory, publish: Publisher
) -> None:
    sink = RefusingSink(host="127.0.0.1", port=free_port(), refusals=1000)
    with smtp_running(sink):
        async with notifications(smtp_port=sink.port, delivery_max_attempts=3) as service:
            await service.subscribe("never@riverside.example")
            envelope = await publish(approved())

            async def failed() -> list[tuple[str, int, str]]:
                rows = await service.fetch(
                    "SELECT status, attempts, last_error FROM deliveries WHERE event_id = $1",
                    envelope.id,
                )
                return [
                    (r["status"], r["attempts"], r["last_error"])
                    for r in rows
                    if r["status"] == "failed"
                ]

            [(_, attempts, error)] = await eventually(failed)
            assert attempts == 3
            assert "451" in error
            assert "never@riverside.example" not in error
            assert sink.refused == 3
            assert sink.messages == []


async def test_connection_refused_is_retried_until_the_server_is_back(
    notifications: ServiceFactory, publish: Publisher
) -> None:
    sink = MailSink(host="127.0.0.1", port=free_port())
    # Nothing listens on the port yet: the first tries meet "connection refused".
    async with notifications(
        smtp_port=sink.port, delivery_max_attempts=20, delivery_backoff_max_seconds=0.5
    ) as service:
        await service.subscribe("patient@riverside.example")
        envelope = await publish(approved())

        async def deferred() -> bool:
            rows = await service.fetch(
                "SELECT attempts FROM deliveries WHERE event_id = $1", envelope.id
            )
            return bool(rows) and rows[0]["attempts"] >= 2

        await eventually(deferred)
        with smtp_running(sink):
            await sink.wait_for("patient@riverside.example", timeout=45)
        rows = await service.fetch("SELECT status FROM deliveries WHERE event_id = $1", envelope.id)
        assert [r["status"] for r in rows] == ["sent"]
        assert len(sink.messages) == 1
