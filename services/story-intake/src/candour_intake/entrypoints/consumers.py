"""story-intake's subscribers: it follows moderation's decisions for the author's status page."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from candour_common.cloudevents import Envelope
from candour_common.events import StoryApproved, StoryRejected
from candour_common.messaging import event_subscriber
from candour_common.runtime import PlatformRef
from candour_common.settings import ServiceSettings
from candour_common.topics import Topic
from candour_intake.service_layer import handlers


def register(broker: KafkaBroker, settings: ServiceSettings, ref: PlatformRef) -> None:
    @event_subscriber(
        broker,
        settings.topics,
        Topic.STORY_APPROVED,
        group_id=settings.group_id,
        title="story-intake:story.approved",
        description="Marks the story published on the author's status page.",
    )
    async def on_story_approved(event: StoryApproved, envelope: Envelope) -> None:
        async with ref.get.pool.acquire() as conn, conn.transaction():
            await handlers.record_approved(conn, event, envelope.id)

    @event_subscriber(
        broker,
        settings.topics,
        Topic.STORY_REJECTED,
        group_id=settings.group_id,
        title="story-intake:story.rejected",
        description="Marks the story rejected (with its reason) on the author's status page.",
    )
    async def on_story_rejected(event: StoryRejected, envelope: Envelope) -> None:
        async with ref.get.pool.acquire() as conn, conn.transaction():
            await handlers.record_rejected(conn, event, envelope.id)
