from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from candour_common.kafka_admin import ensure_topics
from candour_common.topics import TopicNames
from tests import infra
from tests.faults.platform import Platform, platform_setup, start

# The platform's one trusted proxy: the tests on 127.0.0.1 act as it when they send
# X-Forwarded-Proto (to see HSTS) and never otherwise.
TRUSTED_PROXY_ENV = {"CANDOUR_TRUSTED_PROXIES": "127.0.0.1/32"}


@pytest.fixture(scope="module")
async def four_services(
    postgres_server_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    """The four services as real processes, in production mode (CANDOUR_ENV unset), shared
    by the tests of one module: they only read what the services answer at their edge."""
    made: list[str] = []

    async def create_database(prefix: str) -> str:
        name, url = await infra.create_fresh_database(postgres_server_url, prefix)
        made.append(name)
        return url

    topics = TopicNames(prefix=f"t{uuid.uuid4().hex[:10]}.")
    await ensure_topics(kafka_bootstrap, topics, partitions=3)
    logs: Path = tmp_path_factory.mktemp("four-services")
    try:
        async with platform_setup(
            create_database, kafka_bootstrap, topics, logs, extra_env=TRUSTED_PROXY_ENV
        ) as (platform, _smtp):
            await start(platform)
            yield platform
    finally:
        await infra.delete_topics(kafka_bootstrap, topics.prefix)
        await infra.drop_databases(postgres_server_url, made)
