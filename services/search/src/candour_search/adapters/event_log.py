"""Reading the public topics from the beginning, as a rebuild does (plain aiokafka).

The replay assigns itself every partition of the topics (no group rebalancing to wait
for) but commits what it applied under its own consumer group, so operators can watch it
with the usual Kafka tools. It reads up to target offsets taken when asked
(`end_offsets`), which a caller may move on as the topics grow.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from pydantic import BaseModel, ValidationError

from candour_common import keys
from candour_common.cloudevents import Envelope, InvalidEnvelope
from candour_common.events import ResponsePosted, StoryApproved, StoryWithdrawn
from candour_common.kafka_admin import admin_client
from candour_common.kafka_connection import KafkaConnection
from candour_common.topics import Topic, TopicNames

INDEX_TOPICS: dict[Topic, type[BaseModel]] = {
    Topic.STORY_APPROVED: StoryApproved,
    Topic.RESPONSE_POSTED: ResponsePosted,
    Topic.STORY_WITHDRAWN: StoryWithdrawn,
}

Offsets = dict[TopicPartition, int]
# Looking past the targets for records a broker's ListOffsets left out (see `batches`).
END_LOOKS = 3
# A look ends once the broker has answered two fetches of every partition since it began
# (the second was sent after the look began), or after this long in any case.
END_LOOK_MS = 1000
END_LOOK_ANSWERS = 2
# A replay reads in bulk: big fetches per partition and per request (aiokafka's defaults,
# 1 MB and 50 MB, make many small round trips at ~1.5 KB a story). A fetch at the end of
# the topics waits at most fetch_max_wait_ms for new records: short, so a look at the end
# takes two of those, not aiokafka's 500 ms each (a bulk read always finds records).
REPLAY_FETCH = {
    "max_partition_fetch_bytes": 16 * 2**20,
    "fetch_max_bytes": 64 * 2**20,
    "fetch_max_wait_ms": 100,
}


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    event_id: UUID
    event: StoryApproved | ResponsePosted | StoryWithdrawn


@dataclass(frozen=True, slots=True)
class LoggedTombstone:
    """A null value: what `key` named on `topic` is gone (compacted topics)."""

    topic: Topic
    key: str
    at: datetime


# The compacted topics search reads, and how their keys look.
TOMBSTONE_TOPICS = (Topic.STORY_APPROVED, Topic.RESPONSE_POSTED)


@dataclass(frozen=True, slots=True)
class UnreadableMessage:
    """A message the live consumers would dead-letter too (bad envelope or payload)."""

    topic: str
    partition: int
    offset: int
    error: str


def decode(
    topics: TopicNames, record: ConsumerRecord[bytes, bytes]
) -> LoggedEvent | LoggedTombstone:
    """The event or tombstone in a record (InvalidEnvelope / ValidationError / ValueError
    if there is none)."""
    topic = _logical(topics, record.topic)
    if record.value is None:
        return _tombstone(topic, record)
    envelope = Envelope.from_headers(record.headers or (), topic=topic)
    event = INDEX_TOPICS[topic].model_validate_json(record.value or b"")
    assert isinstance(event, StoryApproved | ResponsePosted | StoryWithdrawn)
    return LoggedEvent(event_id=envelope.id, event=event)


def _tombstone(topic: Topic, record: ConsumerRecord[bytes, bytes]) -> LoggedTombstone:
    if topic not in TOMBSTONE_TOPICS or record.key is None:
        raise ValueError(f"unexpected tombstone on {topic.value}")
    key = record.key.decode()
    story_part, separator, response_part = key.partition(keys.SEPARATOR)
    UUID(story_part)
    if separator:
        if topic is not Topic.RESPONSE_POSTED:
            raise ValueError(f"unexpected key {key!r} on {topic.value}")
        UUID(response_part)
    try:
        at = Envelope.from_headers(record.headers or (), topic=topic, with_data=False).time
    except InvalidEnvelope:
        at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
    return LoggedTombstone(topic=topic, key=key, at=at)


@functools.lru_cache(maxsize=64)
def _logical(topics: TopicNames, name: str) -> Topic:
    # Looked up for every record of a replay; the Enum lookup is slow by comparison.
    return topics.logical(name)


UNREADABLE = (InvalidEnvelope, ValidationError, ValueError, UnicodeDecodeError)


class TopicReplay:
    def __init__(self, kafka: KafkaConnection | str, topics: TopicNames, *, group_id: str) -> None:
        self.topics = topics
        self.group_id = group_id
        self._kafka = KafkaConnection.of(kafka)
        self._consumer = AIOKafkaConsumer(
            **self._kafka.client_options(),
            group_id=group_id,
            client_id="candour-search-rebuild",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **REPLAY_FETCH,
        )
        self.partitions: list[TopicPartition] = []

    async def start(self) -> None:
        self.partitions = await self._index_partitions()
        await self._consumer.start()
        self._consumer.assign(self.partitions)
        if self.partitions:
            await self._consumer.seek_to_beginning(*self.partitions)

    async def _index_partitions(self) -> list[TopicPartition]:
        # The consumer's own metadata only covers topics it already uses; ask the cluster.
        admin = admin_client(self._kafka, client_id="candour-search-rebuild")
        await admin.start()
        try:
            available = set(await admin.list_topics())
            # A topic nothing was ever published to may not exist: nothing to replay there.
            names = [n for n in map(self.topics.name, INDEX_TOPICS) if n in available]
            described = await admin.describe_topics(names) if names else []
        finally:
            await admin.close()
        return sorted(
            TopicPartition(topic["topic"], p["partition"])
            for topic in described
            for p in topic["partitions"]
        )

    async def stop(self) -> None:
        await self._consumer.stop()

    async def beginning_offsets(self) -> Offsets:
        if not self.partitions:
            return {}
        return dict(await self._consumer.beginning_offsets(self.partitions))

    async def end_offsets(self) -> Offsets:
        if not self.partitions:
            return {}
        return dict(await self._consumer.end_offsets(self.partitions))

    async def positions(self) -> Offsets:
        return {tp: await self._consumer.position(tp) for tp in self.partitions}

    async def batches(
        self, targets: Offsets, *, max_records: int
    ) -> AsyncIterator[Sequence[ConsumerRecord[bytes, bytes]]]:
        """Records in offset order per partition until every partition's position reached
        its target. A batch may run past a target (the topic grew): those are events too.

        A target is not trusted as the end: some brokers (Tansu, the embedded broker of
        `candour dev`) answer ListOffsets "latest" with the base offset of a partition's
        last record batch, short of its end. So once every target is reached the replay
        looks again (`_look_past`), and while that finds records it reads on to the high
        watermark the fetch reported (a few looks at most, so a busy topic cannot keep it
        going).
        """
        ends = dict(targets)
        looks = 0
        while True:
            behind = [tp for tp, end in ends.items() if await self._consumer.position(tp) < end]
            if behind:
                fetched = await self._consumer.getmany(
                    *behind, timeout_ms=500, max_records=max_records
                )
            else:
                if looks == END_LOOKS or not ends:
                    return
                looks += 1
                fetched = await self._look_past(list(ends), max_records)
                if not any(fetched.values()):
                    return
                for tp in ends:
                    highwater = self._consumer.highwater(tp)
                    if highwater is not None:
                        ends[tp] = max(ends[tp], highwater)
            records = [r for tp in ends for r in fetched.get(tp, ())]
            if records:
                yield records

    async def _look_past(
        self, partitions: list[TopicPartition], max_records: int
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        """Records past the positions, if the broker has any: what fetches bring until
        every partition's fetch was answered END_LOOK_ANSWERS times since the look began.
        The consumer fetches in the background, one request per broker at a time, so the
        second answer is to a request sent after the look began: records published before
        it would be in it. (A fixed wait made every rebuild idle a second at the end of
        the load and again in the switch.) Two answers within one millisecond count as one
        and answers between two polls as one: the look can only last longer, never end
        early; END_LOOK_MS bounds it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + END_LOOK_MS / 1000
        last = {tp: self._consumer.last_poll_timestamp(tp) for tp in partitions}
        answers = dict.fromkeys(partitions, 0)
        while True:
            left_ms = max(int((deadline - loop.time()) * 1000), 0)
            fetched: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
            fetched = await self._consumer.getmany(
                *partitions, timeout_ms=min(left_ms, 20), max_records=max_records
            )
            if any(fetched.values()) or left_ms == 0:
                return fetched
            for tp in partitions:
                polled = self._consumer.last_poll_timestamp(tp)
                if polled is not None and polled != last[tp]:
                    answers[tp] += 1
                    last[tp] = polled
            if min(answers.values()) >= END_LOOK_ANSWERS:
                return fetched

    async def commit(self) -> None:
        """Record how far the replay got under its consumer group (for operators)."""
        offsets = {
            tp: OffsetAndMetadata(position, "") for tp, position in (await self.positions()).items()
        }
        if offsets:
            await self._consumer.commit(offsets)
