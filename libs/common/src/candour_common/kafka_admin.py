"""Topic provisioning on the cluster (idempotent)."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from candour_common.topics import TopicNames

log = structlog.get_logger(__name__)


async def ensure_topics(
    bootstrap: str,
    topics: TopicNames,
    *,
    partitions: int = 3,
    replication_factor: int = 1,
    with_dlq: bool = True,
) -> list[str]:
    """Create every Candour topic (and its DLQ) that does not exist; return those created."""
    names = topics.all()
    if with_dlq:
        names += [f"{n}.dlq" for n in topics.all()]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="candour-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [n for n in names if n not in existing]
        if wanted:
            # Another process may win the race to create them; that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(
                            n, num_partitions=partitions, replication_factor=replication_factor
                        )
                        for n in wanted
                    ]
                )
            # Wait until metadata lists them, so consumers that start now find them.
            for _ in range(50):
                if set(wanted) <= set(await admin.list_topics()):
                    break
                await asyncio.sleep(0.1)
        log.info("topics ensured", created=wanted)
        return wanted
    finally:
        await admin.close()
