from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from candour_common.topics import TopicNames
from tests.conftest import free_port
from tests.faults.platform import Platform, RestartableSmtp, platform_setup
from tests.faults.private_postgres import PrivatePostgres


@pytest.fixture
async def platform_and_smtp(
    create_database, kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> AsyncIterator[tuple[Platform, RestartableSmtp]]:
    async with platform_setup(create_database, kafka_bootstrap, topics, tmp_path) as both:
        yield both


@pytest.fixture
def platform(platform_and_smtp: tuple[Platform, RestartableSmtp]) -> Platform:
    """The four services' databases, topics and environment; the test starts the processes."""
    return platform_and_smtp[0]


@pytest.fixture
async def private_postgres(tmp_path: Path) -> AsyncIterator[PrivatePostgres]:
    """A PostgreSQL server of this test's own, which it may stop and start."""
    server = PrivatePostgres(tmp_path / "pg-state", free_port())
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)
