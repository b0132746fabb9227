"""Moderation's screening workers never outlive it, even when it is killed with SIGKILL
(found after the fault suite: orphans of about 220 MB each were left behind)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from candour_common.topics import TopicNames
from tests.faults.platform import Platform, platform_setup

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture
async def platform(
    create_database, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> AsyncIterator[Platform]:
    async with platform_setup(create_database, kafka_bootstrap, topics, tmp_path) as both:
        yield both[0]


async def test_killed_moderation_leaves_no_screening_worker(platform: Platform) -> None:
    moderation = platform.spawn("moderation")
    await moderation.wait_ready(timeout=90)
    assert moderation.process is not None
    parent = psutil.Process(moderation.process.pid)
    workers: list[psutil.Process] = []
    for _ in range(100):
        workers = [
            p for p in parent.children(recursive=True) if "spawn_main" in " ".join(p.cmdline())
        ]
        if workers:
            break
        await asyncio.sleep(0.2)
    assert workers, "moderation started no screening worker"

    moderation.process.send_signal(signal.SIGKILL)
    moderation.process.wait(timeout=10)
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, f"screening workers left running: {[(p.pid, p.cmdline()) for p in alive]}"
