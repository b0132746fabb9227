"""PostgreSQL stopped for ~10 s: intake answers 503 problem+json quickly and writes nothing
half-done, every service's /readyz says 503, consumers pause and resume without losing
messages.

All four services' databases live on a private PostgreSQL server this test may stop (the
shared one on 5432 is never touched); Kafka is the shared broker.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from candour_common.topics import TopicNames
from tests.faults.platform import (
    CLEAN_BODY,
    SERVICES,
    TRUST,
    Platform,
    RestartableSmtp,
    eventually,
    platform_setup,
    start,
)
from tests.faults.private_postgres import PrivatePostgres

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(360)]

OUTAGE_SECONDS = 10
BEFORE, AFTER = 40, 20


@pytest.fixture
async def platform_on_private_pg(
    private_postgres: PrivatePostgres, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> AsyncIterator[tuple[Platform, RestartableSmtp]]:
    async def create_database(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(private_postgres.url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return private_postgres.database_url(name)

    async with platform_setup(create_database, kafka_bootstrap, topics, tmp_path) as both:
        yield both


async def test_postgres_outage_is_503_then_everything_resumes(
    platform_on_private_pg: tuple[Platform, RestartableSmtp], private_postgres: PrivatePostgres
) -> None:
    platform, _ = platform_on_private_pg
    await start(platform)
    await platform.subscribe_trust()
    ids = await platform.submit(BEFORE)

    await asyncio.to_thread(private_postgres.stop)
    outage_started = time.monotonic()
    async with httpx.AsyncClient(timeout=10) as http:
        refused = 0
        for _ in range(3):
            started = time.monotonic()
            answer = await http.post(
                f"{platform.one('story-intake').url}/v1/stories",
                json={
                    "title": "Written while the database was down",
                    "body": CLEAN_BODY,
                    "organisation_id": TRUST.id,
                    "author": {"display_name": "Sam", "relationship": "patient"},
                },
            )
            assert time.monotonic() - started < 5, "intake must not hang on a dead database"
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["status"] == 503
            refused += 1

        async def all_unready() -> bool:
            codes = [
                (await http.get(f"{platform.one(name).admin_url}/readyz")).status_code
                for name in SERVICES
            ]
            return all(code == 503 for code in codes)

        await eventually(all_unready, timeout=8, what="every /readyz to report 503")
        for name in SERVICES:
            assert (await http.get(f"{platform.one(name).url}/healthz")).status_code == 200

        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))
        await asyncio.to_thread(private_postgres.start)

        async def all_ready() -> bool:
            codes = [
                (await http.get(f"{platform.one(name).admin_url}/readyz")).status_code
                for name in SERVICES
            ]
            return all(code == 200 for code in codes)

        await eventually(all_ready, timeout=60, what="every /readyz to recover")

    ids += await platform.submit(AFTER, first=BEFORE)
    await platform.assert_everything_exactly_once(ids, timeout=180)

    # The refused submissions left nothing behind: no story, no outbox row.
    stories = await platform.fetch("story-intake", "SELECT count(*) AS n FROM stories")
    outbox = await platform.fetch(
        "story-intake", "SELECT count(*) AS n FROM outbox WHERE topic LIKE '%story.submitted'"
    )
    assert stories[0]["n"] == len(ids)
    assert outbox[0]["n"] == len(ids)
    assert refused == 3
