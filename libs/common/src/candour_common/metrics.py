"""Prometheus metrics every service exposes, in a registry made at start-up.

Per-process state lives in one `PlatformMetrics` object created by the runtime,
not at import, so several apps in one test process never collide.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class PlatformMetrics:
    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.http_requests = Counter(
            "candour_http_requests",
            "HTTP requests answered.",
            ["service", "method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "candour_http_request_duration_seconds",
            "HTTP request latency.",
            ["service", "method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.events_consumed = Counter(
            "candour_events_consumed",
            "Events consumed, by outcome (handled, dead_lettered, tombstone).",
            ["service", "topic", "outcome"],
            registry=r,
        )
        self.event_processing = Histogram(
            "candour_event_processing_seconds",
            "Time to handle one event, retries included.",
            ["service", "topic"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.consumer_batch_size = Histogram(
            "candour_consumer_batch_records",
            "Records handled together in one transaction (1 when the consumer keeps up).",
            ["service"],
            buckets=(1, 2, 5, 10, 25, 50, 100, 200, 500),
            registry=r,
        )
        self.transient_errors = Counter(
            "candour_transient_errors",
            "Times a dependency (database, broker) was unavailable and the work was retried "
            "(consumers, outbox relay, delivery worker, retention), by error type.",
            ["service", "error"],
            registry=r,
        )
        self.events_published = Counter(
            "candour_events_published",
            "Events published from the outbox.",
            ["service", "topic"],
            registry=r,
        )
        self.dlq_messages = Counter(
            "candour_dlq_messages",
            "Messages sent to a dead-letter topic.",
            ["service", "topic"],
            registry=r,
        )
        self.retention_purged = Counter(
            "candour_retention_purged",
            "Rows deleted by the retention task because they were older than their "
            "configured age, by table.",
            ["service", "table"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "candour_outbox_backlog",
            "Outbox rows not yet published.",
            ["service"],
            registry=r,
        )
        self.outbox_oldest_age = Gauge(
            "candour_outbox_oldest_age_seconds",
            "Age of the oldest unpublished outbox row.",
            ["service"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "candour_consumer_lag",
            "Messages behind the end of each assigned partition.",
            ["service", "topic", "partition"],
            registry=r,
        )

    def count_transient(self, error: BaseException) -> None:
        """A dependency was away and the work will be retried."""
        self.transient_errors.labels(self.service, type(error).__name__).inc()


class HttpMetricsMiddleware:
    """Counts and times requests by route template (not raw path, to bound cardinality)."""

    def __init__(self, app: ASGIApp, *, metrics: PlatformMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            m = self.metrics
            m.http_requests.labels(m.service, scope["method"], template, str(status)).inc()
            m.http_duration.labels(m.service, scope["method"], template).observe(
                time.perf_counter() - started
            )
