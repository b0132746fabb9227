"""The SMTP server goes away in the middle of a stream of alerts and comes back on the same
port: the deliveries wait and retry, and each arrives exactly once.

tests/integration/notifications/test_retries.py already proves retry against a server that
is not there yet, and against 451 answers, with the service in-process and one email. This
adds the process-level case: a server that was up disappears while emails are being sent,
many are owed at once, and the service keeps consuming meanwhile.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.platform import Platform, RestartableSmtp, eventually, start

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(300)]

BEFORE, DURING = 20, 30
OUTAGE_SECONDS = 8


async def test_emails_owed_during_an_smtp_outage_arrive_once_when_it_returns(
    platform_and_smtp: tuple[Platform, RestartableSmtp],
) -> None:
    platform, smtp = platform_and_smtp
    await start(platform)
    await platform.subscribe_trust()
    ids = await platform.submit(BEFORE)

    async def some_sent() -> bool:
        return len(platform.emailed_titles()) >= 5

    await eventually(some_sent, timeout=90, what="the first emails")
    await asyncio.to_thread(smtp.stop)
    ids += await platform.submit(DURING, first=BEFORE)

    async def deferred() -> bool:
        rows = await platform.fetch(
            "notifications",
            "SELECT count(*) AS n FROM deliveries WHERE status = 'pending' AND attempts >= 1",
        )
        return int(rows[0]["n"]) >= 1

    await eventually(deferred, timeout=90, what="deliveries to be deferred by the outage")
    await asyncio.sleep(OUTAGE_SECONDS)
    await asyncio.to_thread(smtp.start)

    await platform.assert_everything_exactly_once(ids, timeout=120)
