"""SIGTERM: stop taking work, finish what is in flight, drain the outbox, exit in time."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from candour_common.topics import Topic, TopicNames
from tests.conftest import free_port
from tests.infra import read_topic
from tests.integration.intake.conftest import STORY, seed_intake_database
from tests.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


async def test_intake_drains_its_outbox_and_exits_cleanly_on_sigterm(
    create_database, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    url = await create_database("intake")
    await seed_intake_database(url)
    intake = ServiceProcess(
        name="story-intake",
        port=free_port(),
        env={
            "CANDOUR_DATABASE_URL": url,
            "CANDOUR_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "CANDOUR_TOPIC_PREFIX": topics.prefix,
            # A slow poll: only the shutdown drain can publish the last events in time.
            "CANDOUR_OUTBOX_POLL_INTERVAL": "30",
            "CANDOUR_SUBMISSION_RATE_LIMIT": "1000",
            "CANDOUR_JWT_SECRET": "graceful-shutdown-secret-0123456789abcdef",
        },
        log_path=tmp_path / "intake.log",
    )
    intake.start()
    accepted: list[str] = []
    try:
        await intake.wait_ready()
        async with httpx.AsyncClient(timeout=10) as http:

            async def submit_until_refused() -> None:
                while True:
                    try:
                        answer = await http.post(f"{intake.url}/v1/stories", json=STORY)
                    except httpx.HTTPError:
                        return
                    if answer.status_code != 201:
                        return
                    accepted.append(answer.json()["story_id"])

            load = asyncio.create_task(submit_until_refused())
            await asyncio.sleep(1.5)
            started = time.monotonic()
            code = await asyncio.to_thread(intake.stop, signal.SIGTERM, 15)
            elapsed = time.monotonic() - started
            await asyncio.wait_for(load, 10)
    finally:
        intake.stop(signal.SIGKILL)
    print(intake.logs()[-3000:])
    assert code == 0, f"exit code {code}"
    assert elapsed < 12, f"took {elapsed:.1f}s to stop"
    assert len(accepted) > 5
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0
        assert await conn.fetchval("SELECT count(*) FROM stories") >= len(accepted)
    finally:
        await conn.close()
    records = await read_topic(
        kafka_bootstrap, topics.name(Topic.STORY_SUBMITTED), at_least=len(accepted), settle=1.0
    )
    assert set(accepted) <= {r.key.decode() for r in records if r.key}
