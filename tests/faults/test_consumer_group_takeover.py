"""Two copies of a consumer service in one group; kill one: the other takes over its
partitions, and nothing is lost or duplicated."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.platform import SMTP_SESSIONS, Platform, eventually, start

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(420)]

# Fewer than the kill -9 test: what is proven here is the takeover, not the volume.
STORIES = 150
AFTER_KILL = 30


@pytest.mark.parametrize(
    "service",
    ["moderation", "notifications", "search"],
)
async def test_surviving_copy_takes_over_the_dead_copys_partitions(
    platform: Platform, service: str
) -> None:
    await start(platform, copies={service: 2})
    victim, survivor = platform.processes[service]
    await platform.subscribe_trust()
    ids: list[str] = []
    submitting = asyncio.create_task(platform.submit(STORIES, submitted=ids))

    async def both_working() -> bool:
        # Both copies have handled events, so each really owned partitions.
        # "event handled" one record at a time, "batch handled" several together.
        if len(ids) < STORIES // 3 or not all(
            "event handled" in p.logs() or "batch handled" in p.logs() for p in (victim, survivor)
        ):
            return False
        return service != "notifications" or await platform.emails_in_flight()

    await eventually(both_working, timeout=180, what=f"both {service} copies to handle events")
    survivor_log_before = len(survivor.logs())
    platform.kill9(victim)
    # Later calls (search pages, subscriptions) go to the survivor.
    platform.processes[service] = [survivor, victim]
    await submitting
    # Stories sent after the kill land on every partition, the dead copy's too: only a
    # takeover gets them handled (the first batch may all be done before the kill).
    await platform.submit(AFTER_KILL, first=STORIES, submitted=ids)

    async def taken_over() -> bool:
        since_kill = survivor.logs()[survivor_log_before:]
        # FastStream's subscribers say "assigned to partitions"; the event core's
        # consumer (candour_common.consumer), "partitions assigned".
        return any(line in since_kill for line in ("assigned to partitions", "partitions assigned"))

    await eventually(taken_over, timeout=120, what="the survivor to be given new partitions")
    await platform.assert_everything_exactly_once(
        ids, timeout=240, interrupted_sends=SMTP_SESSIONS if service == "notifications" else 0
    )
