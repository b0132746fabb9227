"""Wires notifications' concrete adapters into an app."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence

from fastapi import FastAPI

from candour_common.runtime import Platform, build_app
from candour_notifications.adapters.mailer import Mailer, SmtpMailer
from candour_notifications.entrypoints import consumers
from candour_notifications.entrypoints.http import router
from candour_notifications.service_layer.delivery import DeliveryWorker
from candour_notifications.settings import NotificationsSettings

MIGRATIONS = "candour_notifications.migrations"


def create_app(settings: NotificationsSettings, *, mailer: Mailer | None = None) -> FastAPI:
    worker = DeliveryWorker(settings, mailer or SmtpMailer(settings))

    def start_worker(platform: Platform) -> Sequence[asyncio.Task[None]]:
        return [asyncio.create_task(worker.run(platform.pool), name="delivery-worker")]

    return build_app(
        settings,
        title="Candour notifications",
        description=(
            "Email alerts for organisations (new stories, responses, safeguarding), "
            "response emails for authors, subscriptions and one-click unsubscribe."
        ),
        migrations_package=MIGRATIONS,
        routers=[router],
        register_subscribers=functools.partial(consumers.register, wake_worker=worker.wake),
        on_started=start_worker,
    )
