"""Reading and replaying dead-letter topics (`<topic>.dlq`).

Replay re-publishes each dead letter to its original topic with its original
headers (the `dlq_*` ones removed) and remembers how far it got in a consumer
group of its own, so running it twice never replays a message twice.
Consumers are idempotent by `ce_id`, and a dead-lettered message was never
recorded in their inbox, so a replayed one is processed exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from candour_common.kafka_connection import KafkaConnection
from candour_common.keys import story_partitioner
from candour_common.messaging import DLQ_HEADER_PREFIX
from candour_common.topics import Topic, TopicNames

REPLAY_GROUP_PREFIX = "candour-dlq-replay"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    partition: int
    offset: int
    key: str | None
    headers: dict[str, str]
    value: bytes | None  # None: a tombstone

    @property
    def group(self) -> str:
        return self.headers.get("dlq_group", "")

    @property
    def error(self) -> str:
        return self.headers.get("dlq_error", "")

    @property
    def origin(self) -> str:
        return (
            f"{self.headers.get('dlq_topic', '?')}[{self.headers.get('dlq_partition', '?')}]"
            f"@{self.headers.get('dlq_offset', '?')}"
        )

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [
            (k, v.encode()) for k, v in self.headers.items() if not k.startswith(DLQ_HEADER_PREFIX)
        ]


async def _end_offsets(consumer: AIOKafkaConsumer, topic: str) -> dict[TopicPartition, int]:
    partitions = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    return dict(await consumer.end_offsets(tps)) if tps else {}


async def read_dead_letters(
    kafka: KafkaConnection | str, topics: TopicNames, topic: Topic, *, group: str | None = None
) -> list[DeadLetter]:
    """Every dead letter now in `<topic>.dlq` (optionally only those of one consumer group)."""
    name = topics.dlq(topic)
    consumer = AIOKafkaConsumer(
        name,
        **KafkaConnection.of(kafka).client_options(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        return [
            letter
            async for letter in _drain(consumer, name, await _end_offsets(consumer, name))
            if group is None or letter.group == group
        ]
    finally:
        await consumer.stop()


async def _drain(consumer: AIOKafkaConsumer, topic: str, ends: dict[TopicPartition, int]):  # type: ignore[no-untyped-def]
    """Yield records until every partition reached the end offset seen at start."""
    remaining = {tp: end for tp, end in ends.items() if end > 0}
    for tp in list(remaining):
        if await consumer.position(tp) >= remaining[tp]:
            del remaining[tp]
    while remaining:
        batch = await consumer.getmany(timeout_ms=500)
        for tp, records in batch.items():
            for r in records:
                if tp in remaining and r.offset < remaining[tp]:
                    yield DeadLetter(
                        partition=r.partition,
                        offset=r.offset,
                        key=r.key.decode() if r.key else None,
                        headers={k: v.decode(errors="replace") for k, v in r.headers},
                        value=r.value,
                    )
            if tp in remaining and await consumer.position(tp) >= remaining[tp]:
                del remaining[tp]


async def replay_dead_letters(
    kafka: KafkaConnection | str,
    topics: TopicNames,
    topic: Topic,
    *,
    group: str | None = None,
    progress: Callable[[DeadLetter], None] | None = None,
) -> int:
    """Re-publish dead letters not replayed before to the original topic; return how many."""
    name = topics.dlq(topic)
    connection = KafkaConnection.of(kafka)
    consumer = AIOKafkaConsumer(
        name,
        **connection.client_options(),
        # One replay group per filter, so replaying one group's letters never skips another's.
        group_id=f"{topics.prefix}{REPLAY_GROUP_PREFIX}.{topic.value}.{group or 'all'}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    # The services' partitioner: a replayed response goes back to its story's partition.
    producer = AIOKafkaProducer(
        **connection.client_options(), acks="all", partitioner=story_partitioner
    )
    await consumer.start()
    await producer.start()
    replayed = 0
    try:
        # Wait for the assignment so positions come from the group's committed offsets.
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)
        for tp in consumer.assignment():
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        ends = await _end_offsets(consumer, name)
        async for letter in _drain(consumer, name, ends):
            if group is None or letter.group == group:
                await producer.send_and_wait(
                    topics.name(topic),
                    letter.value,
                    key=letter.key.encode() if letter.key else None,
                    headers=letter.original_headers(),
                )
                replayed += 1
                if progress is not None:
                    progress(letter)
            tp = TopicPartition(name, letter.partition)
            await consumer.commit({tp: OffsetAndMetadata(letter.offset + 1, "")})
        return replayed
    finally:
        await consumer.stop()
        await producer.stop()
