"""Which offset the event consumer commits for a poll's records, whatever order they
were marked handled in."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

from candour_common.consumer import _Offsets


def record(offset: int, partition: int = 0) -> Any:
    return SimpleNamespace(topic="t.story.approved", partition=partition, offset=offset)


def test_a_record_dead_lettered_while_parsing_is_not_committed_again_after_its_batch() -> None:
    # Offsets 0-2 form a batch handled after offset 3 (the poll's last record) was
    # dead-lettered while the poll was parsed: the position is past offset 3.
    offsets = _Offsets()
    offsets.handled(record(3))
    for offset in (0, 1, 2):
        offsets.handled(record(offset))
    assert offsets.pending == {TopicPartition("t.story.approved", 0): 4}


def test_a_rewind_still_goes_back() -> None:
    offsets = _Offsets()
    offsets.handled(record(5))
    offsets.rewind(record(2))
    assert offsets.pending == {TopicPartition("t.story.approved", 0): 2}
    offsets.handled(record(2))
    assert offsets.pending == {TopicPartition("t.story.approved", 0): 3}
