"""The digest scheduler: a loop that owes each day's digests once their time has come.

It only writes delivery rows (see `handlers.prepare_due_digests`); the delivery
worker sends them. Every copy of the service runs it: uniqueness per
(subscription, date) in PostgreSQL makes that safe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from candour_notifications.adapters.clock import Clock
from candour_notifications.domain import DigestSchedule
from candour_notifications.metrics import NotificationMetrics
from candour_notifications.service_layer import handlers
from candour_notifications.service_layer.unit_of_work import NotificationsUnitOfWork

log = structlog.get_logger(__name__)


class DigestScheduler:
    def __init__(
        self,
        schedule: DigestSchedule,
        clock: Clock,
        *,
        check_interval: float,
        wake_worker: Callable[[], None],
    ) -> None:
        self._schedule = schedule
        self._clock = clock
        self._check_interval = check_interval
        self._wake_worker = wake_worker

    async def run(
        self,
        new_uow: Callable[[], NotificationsUnitOfWork],
        metrics: NotificationMetrics | None = None,
    ) -> None:
        # Polling (not sleeping until 07:00) keeps it right across clock changes,
        # restarts and an injected clock that tests move forward.
        while True:
            try:
                owed = await handlers.prepare_due_digests(new_uow(), self._clock, self._schedule)
                if owed:
                    if metrics is not None:
                        metrics.record_digests(owed)
                    self._wake_worker()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database down: try again at the next check
                log.warning("digest check failed", error=repr(exc))
            await asyncio.sleep(self._check_interval)
