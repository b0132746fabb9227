"""aiokafka's repeated connection errors during a broker's absence: one line per window, with
a count of what was left out, instead of ten lines a second per client."""

from __future__ import annotations

import logging

import pytest

from candour_common.logging import RepeatedLinesFilter

pytestmark = pytest.mark.unit


def record(name: str, message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, args, None)


def test_repeats_within_the_window_are_counted_then_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr("candour_common.logging.time.monotonic", lambda: clock[0])
    repeats = RepeatedLinesFilter(window=10)
    line = "Unable connect to node with id %s: [Errno 111] Connection refused"

    assert repeats.filter(record("aiokafka", line, 1))
    shown = [repeats.filter(record("aiokafka", line, 1)) for _ in range(99)]
    assert not any(shown)
    # Another broker's line, and other loggers, are not held back.
    assert repeats.filter(record("aiokafka", line, 2))
    assert all(repeats.filter(record("candour.outbox", "relay retrying")) for _ in range(3))

    clock[0] += 10
    again = record("aiokafka", line, 1)
    assert repeats.filter(again)
    assert again.getMessage() == (
        "Unable connect to node with id 1: [Errno 111] Connection refused "
        "(99 more like this in the last 10s)"
    )
    quiet = record("aiokafka.consumer.fetcher", "Failed fetch messages from 1")
    assert repeats.filter(quiet)
    assert quiet.getMessage() == "Failed fetch messages from 1"
