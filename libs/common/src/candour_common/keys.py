"""Kafka message keys, and the partition each one goes to.

Every event of one story must land on one partition, in order. Most topics are keyed
by the story id alone. `response.posted` is compacted per response, so its key names
the response too (`<story id>/<response id>`), and `safeguarding.raised` per escalation
(`<story id>/<escalation id>`); a partitioner that hashes only the part
before the `/` (exactly as Kafka's default partitioner hashes a bare story id) keeps
those records on the story's partition.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from aiokafka.partitioner import murmur2

SEPARATOR = "/"


def story_key(story_id: uuid.UUID) -> str:
    return str(story_id)


def response_key(story_id: uuid.UUID, response_id: uuid.UUID) -> str:
    return f"{story_id}{SEPARATOR}{response_id}"


def escalation_key(story_id: uuid.UUID, escalation_id: uuid.UUID) -> str:
    """`<story id>/<escalation id>`: safeguarding.raised is compacted per escalation."""
    return f"{story_id}{SEPARATOR}{escalation_id}"


def story_part(key: str) -> str:
    """The story id part of a key (the whole key when it names only a story)."""
    return key.split(SEPARATOR, 1)[0]


def partition_for(key: bytes, partitions: int) -> int:
    """The partition of `key` among `partitions` (Kafka's murmur2, on the story part)."""
    head = key.split(SEPARATOR.encode(), 1)[0]
    hashed: int = murmur2(head)
    return (hashed & 0x7FFFFFFF) % partitions


def story_partitioner(key: bytes | None, all_partitions: Sequence[int], available: object) -> int:
    """An aiokafka `partitioner`: Kafka's default for a story key; the story's partition
    for a `<story id>/<...>` key. Candour never publishes without a key."""
    if key is None:
        raise ValueError("Candour messages always have a key")
    return all_partitions[partition_for(key, len(all_partitions))]
