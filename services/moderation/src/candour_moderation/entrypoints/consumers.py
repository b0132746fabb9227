"""Kafka subscribers of moderation: stories arrive to be screened, and are withdrawn;
notifications reports what became of each safeguarding escalation."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.kafka import KafkaBroker

from candour_common.cloudevents import Envelope
from candour_common.events import SafeguardingUpdated, StorySubmitted, StoryWithdrawn
from candour_common.messaging import event_subscriber
from candour_common.runtime import PlatformRef
from candour_common.settings import ServiceSettings
from candour_common.topics import Topic
from candour_moderation.adapters.metrics import moderation_metrics
from candour_moderation.adapters.repository import postgres_transaction
from candour_moderation.adapters.screening import ScreeningPool
from candour_moderation.service_layer import handlers
from candour_moderation.settings import ModerationSettings


def register(
    broker: KafkaBroker, settings: ServiceSettings, ref: PlatformRef, *, screening: ScreeningPool
) -> None:
    auto_approve = isinstance(settings, ModerationSettings) and settings.auto_approve

    @event_subscriber(
        broker,
        settings.topics,
        Topic.STORY_SUBMITTED,
        group_id=settings.group_id,
        title="moderation:story.submitted",
        description="Screen each submitted story and put it in the moderation queue.",
    )
    async def on_story_submitted(event: StorySubmitted, envelope: Envelope) -> None:
        platform = ref.get
        await handlers.receive_story(
            postgres_transaction(platform.pool, story_id=event.story_id),
            event,
            event_id=envelope.id,
            now=datetime.now(UTC),
            screen=screening.screen,
            auto_approve=auto_approve,
            observe=moderation_metrics(platform.metrics.registry).observe_decision,
        )

    @event_subscriber(
        broker,
        settings.topics,
        Topic.STORY_WITHDRAWN,
        group_id=settings.group_id,
        title="moderation:story.withdrawn",
        description="Take a withdrawn story out of the queue and erase its text.",
    )
    async def on_story_withdrawn(event: StoryWithdrawn, envelope: Envelope) -> None:
        await handlers.withdraw_story(
            postgres_transaction(ref.get.pool, story_id=event.story_id),
            event,
            event_id=envelope.id,
            now=datetime.now(UTC),
        )

    @event_subscriber(
        broker,
        settings.topics,
        Topic.SAFEGUARDING_UPDATED,
        group_id=settings.group_id,
        title="moderation:safeguarding.updated",
        description="Record who was alerted, who acknowledged, and re-alerts, for the console.",
    )
    async def on_safeguarding_updated(event: SafeguardingUpdated, envelope: Envelope) -> None:
        await handlers.record_escalation_update(
            postgres_transaction(ref.get.pool, story_id=event.story_id),
            event,
            event_id=envelope.id,
            now=datetime.now(UTC),
        )
