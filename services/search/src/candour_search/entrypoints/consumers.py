"""Kafka subscribers of search: the public topics that build the index."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from candour_common.cloudevents import Envelope
from candour_common.events import ResponsePosted, StoryApproved, StoryWithdrawn
from candour_common.messaging import event_subscriber
from candour_common.runtime import PlatformRef
from candour_common.settings import ServiceSettings
from candour_common.topics import Topic
from candour_search.service_layer import handlers


def register(broker: KafkaBroker, settings: ServiceSettings, ref: PlatformRef) -> None:
    topics = settings.topics

    @event_subscriber(
        broker,
        topics,
        Topic.STORY_APPROVED,
        group_id=settings.group_id,
        title="search:story.approved",
        description="Index a published story (a newer revision replaces an older one).",
    )
    async def on_story_approved(event: StoryApproved, envelope: Envelope) -> None:
        await handlers.index_story(ref.get.pool, event, event_id=envelope.id)

    @event_subscriber(
        broker,
        topics,
        Topic.RESPONSE_POSTED,
        group_id=settings.group_id,
        title="search:response.posted",
        description="Attach a staff response to its story in the index.",
    )
    async def on_response_posted(event: ResponsePosted, envelope: Envelope) -> None:
        await handlers.add_response(ref.get.pool, event, event_id=envelope.id)

    @event_subscriber(
        broker,
        topics,
        Topic.STORY_WITHDRAWN,
        group_id=settings.group_id,
        title="search:story.withdrawn",
        description="Delete a withdrawn story and its responses from the index.",
    )
    async def on_story_withdrawn(event: StoryWithdrawn, envelope: Envelope) -> None:
        await handlers.withdraw_story(ref.get.pool, event, event_id=envelope.id)
