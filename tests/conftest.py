from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from candour_common.kafka_admin import ensure_topics
from candour_common.topics import TopicNames
from tests import infra
from tests.infra import free_port as free_port  # many tests import it from here

# Integration and e2e tests need real servers; unit tests never start any.


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with infra.kafka_bootstrap() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    with infra.postgres_url() as url:
        yield url


CreateDatabase = Callable[[str], Awaitable[str]]


@pytest.fixture
async def create_database(postgres_server_url: str) -> AsyncIterator[CreateDatabase]:
    """Make fresh, empty databases for this test; drop them afterwards."""
    made: list[str] = []

    async def create(prefix: str = "t") -> str:
        name, url = await infra.create_fresh_database(postgres_server_url, prefix)
        made.append(name)
        return url

    yield create
    await infra.drop_databases(postgres_server_url, made)


@pytest.fixture
async def topics(kafka_bootstrap: str) -> AsyncIterator[TopicNames]:
    """Fresh topic names (a unique prefix) for this test, created on the broker."""
    names = TopicNames(prefix=f"t{uuid.uuid4().hex[:10]}.")
    await ensure_topics(kafka_bootstrap, names, partitions=3)
    yield names
    await infra.delete_topics(kafka_bootstrap, names.prefix)


@pytest.fixture
def smtp_server() -> Iterator[infra.MailSink]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""
    with infra.smtp_server() as sink:
        yield sink
