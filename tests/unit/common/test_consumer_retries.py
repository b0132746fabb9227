"""How a subscriber retries: a dependency's outage is retried with capped backoff and
counted, for at most the policy's window; a tombstone goes to `on_tombstone` or is
skipped, never dead-lettered as a bad event."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from candour_common.cloudevents import Envelope
from candour_common.events import StoryApproved
from candour_common.messaging import (
    ConsumerPolicy,
    DependencyUnavailable,
    _handle_record,
    _with_retries,
)
from candour_common.metrics import PlatformMetrics
from candour_common.topics import Topic, TopicNames

pytestmark = pytest.mark.unit

TOPICS = TopicNames("t.")


@dataclass
class Record:
    topic: str = "t.story.approved"
    partition: int = 0
    offset: int = 7
    key: bytes | None = None
    value: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


async def test_an_outage_is_retried_counted_and_given_back_after_the_window() -> None:
    metrics = PlatformMetrics("svc")
    policy = ConsumerPolicy(
        group_id="g",
        retry_delay=0.01,
        transient_backoff_max=0.04,
        transient_retry_window=0.3,
        metrics=metrics,
    )
    calls: list[float] = []

    async def database_down() -> None:
        calls.append(time.monotonic())
        raise ConnectionRefusedError("database down")

    started = time.monotonic()
    with pytest.raises(DependencyUnavailable):
        await _with_retries(None, TOPICS, policy, Record(), database_down)  # type: ignore[arg-type]
    # Given back once the window has passed (a generous bound: the machine is shared).
    assert 0.3 <= time.monotonic() - started < 5.0
    assert len(calls) >= 3
    counted = metrics.registry.get_sample_value(
        "candour_transient_errors_total", {"service": "svc", "error": "ConnectionRefusedError"}
    )
    assert counted == len(calls)


async def test_a_tombstone_goes_to_its_handler_with_its_envelope() -> None:
    story_id = uuid.uuid4()
    envelope = Envelope.tombstone(Topic.STORY_APPROVED, story_id, service="moderation")
    seen: list[tuple[str, Any]] = []

    async def on_tombstone(key: str, env: Envelope | None) -> None:
        seen.append((key, env))

    async def never(event: Any, env: Envelope) -> None:
        raise AssertionError("a tombstone is not an event")

    record = Record(
        key=str(story_id).encode(),
        value=None,
        headers=[(k, v.encode()) for k, v in envelope.headers(with_data=False).items()],
    )
    policy = ConsumerPolicy(group_id="g", metrics=PlatformMetrics("svc"))
    await _handle_record(None, TOPICS, policy, record, StoryApproved, never, on_tombstone)  # type: ignore[arg-type]
    [(key, received)] = seen
    assert key == str(story_id)
    assert received is not None and received.id == envelope.id
    # Without a handler, it is skipped (counted), not dead-lettered.
    await _handle_record(None, TOPICS, policy, record, StoryApproved, never)  # type: ignore[arg-type]
    assert policy.metrics is not None
    assert (
        policy.metrics.registry.get_sample_value(
            "candour_events_consumed_total",
            {"service": "svc", "topic": "story.approved", "outcome": "tombstone"},
        )
        == 2
    )
