"""Wires notifications' concrete adapters into an app."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from fastapi import FastAPI

from candour_common.db.retention import RetentionRule
from candour_common.runtime import Platform, admin_app, build_app
from candour_common.settings import ServiceSettings
from candour_common.web import pages
from candour_notifications.adapters.clock import Clock, SystemClock
from candour_notifications.adapters.mailer import Mailer, SmtpMailer
from candour_notifications.adapters.repository import PostgresDeliveryLedger
from candour_notifications.domain import DigestSchedule
from candour_notifications.entrypoints import consumers
from candour_notifications.entrypoints.http import router
from candour_notifications.entrypoints.pages import create_alert_templates
from candour_notifications.entrypoints.pages import router as alerts_router
from candour_notifications.entrypoints.scrape import RefreshBeforeScrape
from candour_notifications.metrics import NotificationMetrics
from candour_notifications.service_layer.delivery import DeliveryWorker
from candour_notifications.service_layer.digests import DigestScheduler
from candour_notifications.service_layer.realerts import RealertLoop
from candour_notifications.service_layer.unit_of_work import (
    NotificationsUnitOfWork,
    PostgresNotificationsUnitOfWork,
)
from candour_notifications.settings import NotificationsSettings

MIGRATIONS = "candour_notifications.migrations"


def retention_rules(settings: ServiceSettings) -> list[RetentionRule]:
    """Subscriptions nobody confirmed, and their confirmation emails, lapse; the address
    of an author whose story was not published goes once they have had time to edit it
    and send it again, with the emails sent to them about it (see the 0033 migration)."""
    own = settings if isinstance(settings, NotificationsSettings) else None
    lapse = timedelta(days=own.subscription_confirmation_days if own else 7.0)
    after_rejection = timedelta(days=own.author_contact_after_rejection_days if own else 90.0)
    return [
        RetentionRule(
            "author_contacts", "rejected_at", after_rejection, condition="rejected_at IS NOT NULL"
        ),
        # A decision whose story never came (see the 0035 migration).
        RetentionRule("rejections_before_contact", "rejected_at", after_rejection),
        RetentionRule(
            "deliveries",
            "updated_at",
            after_rejection,
            condition="kind IN ('author_published', 'author_rejected')"
            " AND status IN ('sent', 'failed', 'cancelled')",
        ),
        RetentionRule(
            "deliveries",
            "created_at",
            lapse,
            # First the emails (while their subscriptions still say they wait), then those.
            condition="kind = 'subscription_confirmation'"
            " AND subscription_id IN (SELECT id FROM subscriptions WHERE pending_confirmation)",
        ),
        RetentionRule("subscriptions", "created_at", lapse, condition="pending_confirmation"),
    ]


def create_app(
    settings: NotificationsSettings, *, mailer: Mailer | None = None, clock: Clock | None = None
) -> FastAPI:
    # `smtp_sessions` SMTP sessions send side by side, each kept between emails; the app
    # ends them on shutdown. A mailer passed in is the one lane, and its owner's to close.
    owned_mailers: list[SmtpMailer] = []
    if mailer is None:
        owned_mailers = [SmtpMailer(settings) for _ in range(settings.smtp_sessions)]
    lanes: list[Mailer] = [mailer] if mailer is not None else list(owned_mailers)
    worker = DeliveryWorker(settings, lanes)
    scheduler = DigestScheduler(
        DigestSchedule(at=settings.digest_time, timezone=settings.digest_zone),
        clock or SystemClock(),
        check_interval=settings.digest_check_interval,
        wake_worker=worker.wake,
    )
    realerts = RealertLoop(
        settings.safeguarding_policy(),
        check_interval=settings.safeguarding_check_interval,
        wake_worker=worker.wake,
    )
    # The platform's registry exists once the app starts; our metrics join it then
    # (once per app, even if its lifespan runs again).
    installed: list[NotificationMetrics] = []

    def metrics_for(platform: Platform) -> NotificationMetrics:
        registry = platform.metrics.registry
        if not installed or installed[0].registry is not registry:
            installed[:] = [NotificationMetrics(registry, service=settings.service_name)]
        return installed[0]

    async def deliver(platform: Platform, metrics: NotificationMetrics) -> None:
        try:
            await worker.run(
                PostgresDeliveryLedger(platform.pool), metrics, platform.metrics.count_transient
            )
        finally:  # cancelled at shutdown
            await asyncio.gather(*(m.close() for m in owned_mailers))

    def start_background(platform: Platform) -> Sequence[asyncio.Task[None]]:
        metrics = metrics_for(platform)

        def new_uow() -> NotificationsUnitOfWork:
            uow = platform.unit_of_work()
            assert isinstance(uow, NotificationsUnitOfWork)
            return uow

        return [
            asyncio.create_task(deliver(platform, metrics), name="delivery-worker"),
            asyncio.create_task(scheduler.run(new_uow, metrics), name="digest-scheduler"),
            asyncio.create_task(realerts.run(new_uow), name="safeguarding-realerts"),
        ]

    app = build_app(
        settings,
        title="Candour notifications",
        description=(
            "Email alerts for organisations (new stories immediately or as a daily digest, "
            "responses, safeguarding), response emails for authors, subscriptions, "
            "one-click unsubscribe and the operators' view of deliveries."
        ),
        migrations_package=MIGRATIONS,
        service=consumers.SERVICE,
        unit_of_work=PostgresNotificationsUnitOfWork,
        routers=[router, alerts_router],
        subscriptions=consumers.subscriptions(settings, wake_worker=worker.wake),
        # safeguarding.updated: who was alerted, acknowledgements, re-alerts.
        relay_outbox=True,
        on_started=start_background,
        retention_rules=retention_rules,
    )

    # Routes that owe an email (a subscription's confirmation) wake the worker.
    app.state.wake_delivery_worker = worker.wake
    # The alerts pages: outside /v1 and left out of the OpenAPI document.
    app.state.alert_templates = create_alert_templates(settings)
    pages.mount_static(app)

    async def refresh_delivery_gauges() -> None:
        platform: Platform | None = getattr(app.state, "platform", None)
        if platform is None or not installed:
            return
        counts, oldest = await PostgresDeliveryLedger(platform.pool).counts()
        installed[0].set_delivery_counts(counts, oldest)

    admin_app(app).add_middleware(RefreshBeforeScrape, refresh=refresh_delivery_gauges)
    return app
