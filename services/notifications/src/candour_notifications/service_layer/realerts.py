"""The re-alert loop: safeguarding alerts nobody acknowledged in time go to the duty
moderators. No cron: every copy of the service runs this loop, and
`handlers.realert_overdue` takes each overdue alert in exactly one of them
(SELECT ... FOR UPDATE SKIP LOCKED, then the alert is no longer overdue)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from candour_notifications.domain import SafeguardingPolicy
from candour_notifications.service_layer import handlers
from candour_notifications.service_layer.unit_of_work import NotificationsUnitOfWork

log = structlog.get_logger(__name__)


class RealertLoop:
    def __init__(
        self,
        policy: SafeguardingPolicy,
        *,
        check_interval: float,
        wake_worker: Callable[[], None],
    ) -> None:
        self._policy = policy
        self._check_interval = check_interval
        self._wake_worker = wake_worker

    async def run(self, new_uow: Callable[[], NotificationsUnitOfWork]) -> None:
        while True:
            try:
                if await handlers.realert_overdue(new_uow(), self._policy):
                    self._wake_worker()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database down: try again at the next check
                log.warning("safeguarding re-alert check failed", error=repr(exc))
            await asyncio.sleep(self._check_interval)
