"""Moderation's own Prometheus metrics, on the app's platform registry.

They are made once per app (per registry), at start-up or on first use, never
at import, so several apps in one process (tests) each have their own.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from candour_moderation.domain.model import QueueItem
from candour_screening import SafeguardingLevel

# From "the system approved it on arrival" to "it waited over a weekend".
_DECISION_BUCKETS = (
    1.0,
    10.0,
    60.0,
    300.0,
    900.0,
    1800.0,
    3600.0,
    2 * 3600.0,
    4 * 3600.0,
    8 * 3600.0,
    24 * 3600.0,
    48 * 3600.0,
    72 * 3600.0,
    7 * 24 * 3600.0,
)


class ModerationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.queue_depth = Gauge(
            "candour_moderation_queue_depth",
            "Stories waiting for a moderator, by priority (safeguarding level).",
            ["priority"],
            registry=registry,
        )
        self.time_to_decision = Histogram(
            "candour_moderation_time_to_decision_seconds",
            "Time from the author's submission to the moderation decision.",
            ["decision", "automatic"],
            buckets=_DECISION_BUCKETS,
            registry=registry,
        )
        self.stories_screened = Counter(
            "candour_moderation_stories_screened",
            "Stories (and authors' edits) queued, by who screened them: `moderation`, or "
            "`story-intake` (its screening carried on story.submitted, not screened again).",
            ["screened_by"],
            registry=registry,
        )
        for level in SafeguardingLevel:
            self.queue_depth.labels(level.value).set(0)
        for screened_by in ("moderation", "story-intake"):
            self.stories_screened.labels(screened_by)

    def observe_screenings(self, screened_by: str, count: int) -> None:
        self.stories_screened.labels(screened_by).inc(count)

    def set_queue_depth(self, depth: Mapping[SafeguardingLevel, int]) -> None:
        for level, count in depth.items():
            self.queue_depth.labels(level.value).set(count)

    def observe_decision(self, item: QueueItem, automatic: bool) -> None:
        """Called once the decision committed; a story is decided once, so observed once."""
        if item.decided_at is None:
            return
        self.time_to_decision.labels(item.status.value, "true" if automatic else "false").observe(
            _seconds_between(item.submitted_at, item.decided_at)
        )


_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, ModerationMetrics] = (
    weakref.WeakKeyDictionary()
)


def moderation_metrics(registry: CollectorRegistry) -> ModerationMetrics:
    """The metrics of the app owning `registry`, made on first use."""
    metrics = _BY_REGISTRY.get(registry)
    if metrics is None:
        metrics = _BY_REGISTRY[registry] = ModerationMetrics(registry)
    return metrics


def _seconds_between(start: datetime, end: datetime) -> float:
    # The submission time is the producer's clock: never report a negative wait.
    return max(0.0, (end - start).total_seconds())
