"""Which offset the event consumer commits for a poll's records, whatever order they
were marked handled in, and when it commits them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

from candour_common.consumer import (
    CAUGHT_UP_COMMIT_SECONDS,
    COMMIT_EVERY_RECORDS,
    COMMIT_INTERVAL_SECONDS,
    _Offsets,
    commit_due,
)


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


# When offsets are committed (`commit_due`, with the consumer's defaults).
def due(records: int, since_last_commit: float, *, caught_up: bool) -> bool:
    return commit_due(
        records=records,
        since_last_commit=since_last_commit,
        caught_up=lambda: caught_up,
        every=COMMIT_EVERY_RECORDS,
        interval=COMMIT_INTERVAL_SECONDS,
        caught_up_interval=CAUGHT_UP_COMMIT_SECONDS,
    )


def test_a_consumer_keeping_up_with_a_trickle_does_not_commit_after_every_record() -> None:
    # One record handled 10 ms after the last commit: the next records join it.
    assert not due(1, 0.01, caught_up=True)
    # A quarter of a second on (at the latest the next idle poll): committed.
    assert due(3, 0.25, caught_up=True)


def test_a_backlog_commits_every_500_records_or_every_second() -> None:
    assert not due(499, 0.9, caught_up=False)
    assert due(500, 0.1, caught_up=False)
    assert due(1, 1.0, caught_up=False)
    # Behind, a quarter of a second is not enough: the backlog's next records follow.
    assert not due(10, 0.5, caught_up=False)
