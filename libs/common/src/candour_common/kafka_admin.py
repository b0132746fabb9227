"""Topic provisioning on the cluster (idempotent)."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from candour_common.topics import DLQ_SPEC, TOPIC_TABLE, TopicNames, TopicSpec


def topic_specs(topics: TopicNames, *, with_dlq: bool = True) -> dict[str, TopicSpec]:
    """Every cluster topic name with the rules it should have."""
    specs = {topics.name(t): spec for t, spec in TOPIC_TABLE.items()}
    if with_dlq:
        specs |= {topics.dlq(t): DLQ_SPEC for t in TOPIC_TABLE}
    return specs


async def topic_configs(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    """The cluster's current values of the configs the table manages, per topic."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    managed = ("retention.ms", "cleanup.policy", "min.insync.replicas")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="candour-admin")
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n, dict.fromkeys(managed)) for n in names]
        )
        found: dict[str, dict[str, str]] = {}
        for response in responses:
            for resource in response.resources:
                _code, _msg, _type, name, entries = resource[:5]
                found[name] = {e[0]: e[1] for e in entries if e[0] in managed}
        return found
    finally:
        await admin.close()


log = structlog.get_logger(__name__)


async def ensure_topics(
    bootstrap: str,
    topics: TopicNames,
    *,
    partitions: int = 3,
    replication_factor: int = 1,
    with_dlq: bool = True,
    apply_configs: bool = False,
) -> list[str]:
    """Create every Candour topic (and its DLQ) that does not exist; return those created.

    With `apply_configs` each topic gets the retention, cleanup policy and
    min.insync.replicas of `TOPIC_TABLE` (production); without, broker defaults
    (tests, and the embedded dev broker, which keeps everything in memory).
    """
    specs = topic_specs(topics, with_dlq=with_dlq)
    names = list(specs)
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
                            n,
                            num_partitions=partitions,
                            replication_factor=replication_factor,
                            topic_configs=(
                                specs[n].configs(replication_factor=replication_factor)
                                if apply_configs
                                else {}
                            ),
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
