"""Topic provisioning on the cluster (idempotent)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    NodeNotReadyError,
    RequestTimedOutError,
    TopicAlreadyExistsError,
)

from candour_common.kafka_connection import KafkaConnection
from candour_common.topics import (
    DLQ_SPEC,
    MANAGED_CONFIGS,
    TOPIC_TABLE,
    TopicNames,
    TopicSpec,
    replication_factor_for,
)


def admin_client(
    kafka: KafkaConnection | str, *, client_id: str = "candour-admin"
) -> AIOKafkaAdminClient:
    """An admin client (not started) that connects as the settings say."""
    return AIOKafkaAdminClient(**KafkaConnection.of(kafka).client_options(), client_id=client_id)


log = structlog.get_logger(__name__)

T = TypeVar("T")

# aiokafka's admin client sends each request to a random broker of the last
# metadata, which still lists a broker that died seconds ago (until the controller
# fences it): another try most likely picks a live one.
BROKER_GONE = (NodeNotReadyError, KafkaConnectionError, RequestTimedOutError)


async def retrying(call: Callable[[], Awaitable[T]], *, attempts: int = 6) -> T:
    """`call()`, tried again (a second apart) while the broker it reached is gone."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except BROKER_GONE as exc:
            if attempt == attempts:
                raise
            log.warning("broker unavailable; trying another", error=repr(exc), attempt=attempt)
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


def topic_specs(topics: TopicNames, *, with_dlq: bool = True) -> dict[str, TopicSpec]:
    """Every cluster topic name with the rules it should have."""
    specs = {topics.name(t): spec for t, spec in TOPIC_TABLE.items()}
    if with_dlq:
        specs |= {topics.dlq(t): DLQ_SPEC for t in TOPIC_TABLE}
    return specs


async def topic_configs(
    kafka: KafkaConnection | str, names: list[str], *, attempts: int = 20
) -> dict[str, dict[str, str]]:
    """The cluster's current values of the configs the table manages, per topic.

    A broker learns of a new topic from the controller in its own time; until then it
    answers "unknown topic" with no entries. Such topics are asked again (half a second
    apart, `attempts` times); a topic still unknown after that is left out.
    """
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    managed = MANAGED_CONFIGS
    admin = admin_client(kafka)
    await admin.start()
    try:
        found: dict[str, dict[str, str]] = {}
        pending = list(names)
        for attempt in range(attempts):
            resources = [
                ConfigResource(ConfigResourceType.TOPIC, n, dict.fromkeys(managed)) for n in pending
            ]
            responses = await retrying(partial(admin.describe_configs, resources))
            unknown: list[str] = []
            for response in responses:
                for resource in response.resources:
                    code, _msg, _type, name, entries = resource[:5]
                    if code:
                        unknown.append(name)
                    else:
                        found[name] = {e[0]: e[1] for e in entries if e[0] in managed}
            if not unknown:
                break
            pending = unknown
            if attempt + 1 < attempts:
                await asyncio.sleep(0.5)
        return found
    finally:
        await admin.close()


async def cluster_size(admin: AIOKafkaAdminClient) -> int:
    """How many brokers the cluster has, as far as its metadata shows.

    The brokers answering now, or more when an existing partition has more
    replicas than that (a broker is down: its replicas are still listed), so a
    topic created while one broker is away still gets the cluster's replication.
    """
    live = len((await retrying(admin.describe_cluster)).get("brokers") or [])
    described: list[dict[str, Any]] = await retrying(admin.describe_topics)
    listed = max(
        (len(p.get("replicas") or []) for t in described for p in t.get("partitions") or []),
        default=0,
    )
    return max(live, listed, 1)


async def ensure_topics(
    kafka: KafkaConnection | str,
    topics: TopicNames,
    *,
    partitions: int = 3,
    replication_factor: int | None = None,
    with_dlq: bool = True,
    apply_configs: bool = False,
) -> list[str]:
    """Create every Candour topic (and its DLQ) that does not exist; return those created.

    The replication factor, unless given, follows the cluster size
    (`replication_factor_for`: 3 on three brokers or more, 1 on one). With
    `apply_configs` each topic gets the retention, cleanup policy and
    min.insync.replicas of `TOPIC_TABLE` for that replication factor
    (production); without, broker defaults (tests, and the embedded dev broker,
    which keeps everything in memory).
    """
    specs = topic_specs(topics, with_dlq=with_dlq)
    names = list(specs)
    admin = admin_client(kafka)
    await admin.start()
    try:
        existing = set(await retrying(admin.list_topics))
        wanted = [n for n in names if n not in existing]
        if wanted:
            replication = replication_factor or replication_factor_for(await cluster_size(admin))
            # Another process may win the race to create them; that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(
                            n,
                            num_partitions=partitions,
                            replication_factor=replication,
                            topic_configs=(
                                specs[n].configs(replication_factor=replication)
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
