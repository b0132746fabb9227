"""When a subscriber commits offsets: at once when caught up, in batches under a backlog."""

from __future__ import annotations

from types import SimpleNamespace

from candour_common.messaging import CommitPacing


def record(offset: int) -> SimpleNamespace:
    return SimpleNamespace(offset=offset)


def test_a_caught_up_consumer_commits_every_record() -> None:
    pacing = CommitPacing(every=100, interval=60)
    for offset in range(5):
        assert pacing.due(record(offset), highwater=offset + 1)
        pacing.committed()


def test_an_unknown_end_counts_as_caught_up() -> None:
    assert CommitPacing(every=100, interval=60).due(record(0), highwater=None)


def test_under_a_backlog_it_commits_every_n_records() -> None:
    pacing = CommitPacing(every=3, interval=60)
    due = []
    for offset in range(7):
        due.append(pacing.due(record(offset), highwater=1000))
        if due[-1]:
            pacing.committed()
    assert due == [False, False, True, False, False, True, False]


def test_under_a_backlog_it_commits_after_the_interval() -> None:
    pacing = CommitPacing(every=1000, interval=0.0)
    assert pacing.due(record(0), highwater=1000)


def test_the_last_record_of_a_backlog_is_committed() -> None:
    pacing = CommitPacing(every=1000, interval=60)
    assert not pacing.due(record(0), highwater=3)
    assert not pacing.due(record(1), highwater=3)
    assert pacing.due(record(2), highwater=3)
