"""Prometheus metrics of notifications, on the app's own registry (made at start-up).

Served on `/metrics` with the platform's metrics. Nothing here is created at
import time, so several apps in one process (tests) never share or collide.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge

from candour_notifications.domain import DeliveryStatus


class NotificationMetrics:
    def __init__(self, registry: CollectorRegistry, *, service: str = "notifications") -> None:
        self.registry = registry
        self.service = service
        self.deliveries = Gauge(
            "candour_notifications_deliveries",
            "Emails by delivery state (pending, sending, sent, failed, cancelled), "
            "counted in the database when scraped.",
            ["service", "state"],
            registry=registry,
        )
        self.oldest_pending_age = Gauge(
            "candour_notifications_oldest_pending_age_seconds",
            "Age of the oldest email still waiting to be sent (0 when none).",
            ["service"],
            registry=registry,
        )
        self.delivery_attempts = Counter(
            "candour_notifications_delivery_attempts",
            "SMTP delivery attempts by email kind and outcome (sent, retry, failed).",
            ["service", "kind", "outcome"],
            registry=registry,
        )
        self.digests_owed = Counter(
            "candour_notifications_digests_owed",
            "Daily digests written for sending.",
            ["service"],
            registry=registry,
        )

    def record_attempt(self, kind: str, outcome: str) -> None:
        self.delivery_attempts.labels(self.service, kind, outcome).inc()

    def record_digests(self, count: int) -> None:
        self.digests_owed.labels(self.service).inc(count)

    def set_delivery_counts(
        self, counts: Mapping[DeliveryStatus, int], oldest_pending_age: float | None
    ) -> None:
        for state in DeliveryStatus:
            self.deliveries.labels(self.service, state.value).set(counts.get(state, 0))
        self.oldest_pending_age.labels(self.service).set(oldest_pending_age or 0.0)
