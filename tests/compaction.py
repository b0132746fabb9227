"""Topics provisioned as in production (the table in `candour_common.topics`), but with
compaction made to run within seconds, and a way to wait until it has.

Apache Kafka never cleans a partition's active segment, and closes a segment only when a
record arrives after `segment.ms`; its cleaner thread looks for work every 15 s by default.
So `wait_for_compaction` keeps appending harmless tombstones (random story ids, which
every consumer tolerates) to each partition until the records it waits for are gone.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from candour_common.kafka_admin import topic_specs
from candour_common.keys import response_key, story_key
from candour_common.topics import Topic, TopicNames
from tests.infra import Record, read_topic

# Short enough that compaction runs during a test; tombstones stay readable meanwhile.
FAST_COMPACTION = {
    "segment.ms": "200",
    "min.cleanable.dirty.ratio": "0.01",
    "max.compaction.lag.ms": "200",
}


async def create_compacted_topics(
    bootstrap: str,
    topics: TopicNames,
    *,
    partitions: int = 3,
    delete_retention_ms: int = 600_000,
) -> dict[str, dict[str, str]]:
    """Create every topic with its production configs, compaction sped up; return them."""
    configs: dict[str, dict[str, str]] = {}
    for name, spec in topic_specs(topics).items():
        configs[name] = spec.configs(replication_factor=1)
        if spec.compacted:
            configs[name] |= FAST_COMPACTION | {"delete.retention.ms": str(delete_retention_ms)}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, partitions, 1, topic_configs=c) for name, c in configs.items()]
        )
        for _ in range(100):
            if set(configs) <= set(await admin.list_topics()):
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    return configs


def _filler_key(topic: Topic) -> bytes:
    story = uuid.uuid4()
    key = response_key(story, uuid.uuid4()) if topic is Topic.RESPONSE_POSTED else story_key(story)
    return key.encode()


async def wait_for_compaction(
    bootstrap: str,
    topics: TopicNames,
    topic: Topic,
    *,
    erased: Callable[[Record], bool],
    partitions: int = 3,
    timeout: float = 150.0,
) -> list[Record]:
    """Append filler tombstones until no record of `topic` (read from the beginning)
    matches `erased`; return what is left. Fails after `timeout` seconds."""
    name = topics.name(topic)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            for partition in range(partitions):
                await producer.send_and_wait(
                    name, None, key=_filler_key(topic), partition=partition
                )
            records = await read_topic(bootstrap, name, at_least=1, timeout=5, settle=1.0)
            left = [r for r in records if erased(r)]
            if not left:
                return records
            if loop.time() > deadline:
                raise AssertionError(
                    f"{name} not compacted within {timeout} s: {len(left)} records left"
                )
            await asyncio.sleep(2)
    finally:
        await producer.stop()
