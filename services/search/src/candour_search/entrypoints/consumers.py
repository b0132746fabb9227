"""Kafka subscribers of search: the public topics that build the index."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.kafka import KafkaBroker

from candour_common.cloudevents import Envelope
from candour_common.events import (
    OrganisationListed,
    ResponsePosted,
    StoryApproved,
    StoryWithdrawn,
)
from candour_common.messaging import TombstoneHandler, event_subscriber
from candour_common.runtime import PlatformRef
from candour_common.settings import ServiceSettings
from candour_common.topics import Topic
from candour_search.entrypoints import voices_consumer
from candour_search.service_layer import handlers


def _erase(ref: PlatformRef, topic: Topic) -> TombstoneHandler:
    async def on_tombstone(key: str, envelope: Envelope | None) -> None:
        at = envelope.time if envelope is not None else datetime.now(UTC)
        await handlers.erase_by_tombstone(ref.get.pool, topic, key, at)

    return on_tombstone


def register(broker: KafkaBroker, settings: ServiceSettings, ref: PlatformRef) -> None:
    topics = settings.topics
    voices_consumer.register(broker, settings, ref)

    @event_subscriber(
        broker,
        topics,
        Topic.STORY_APPROVED,
        group_id=settings.group_id,
        title="search:story.approved",
        description=(
            "Index a published story (a newer revision replaces an older one); a tombstone "
            "(null value) takes it out."
        ),
        on_tombstone=_erase(ref, Topic.STORY_APPROVED),
    )
    async def on_story_approved(event: StoryApproved, envelope: Envelope) -> None:
        await handlers.index_story(ref.get.pool, event, event_id=envelope.id)

    @event_subscriber(
        broker,
        topics,
        Topic.RESPONSE_POSTED,
        group_id=settings.group_id,
        title="search:response.posted",
        description=(
            "Attach a staff response to its story in the index; a tombstone takes it out."
        ),
        on_tombstone=_erase(ref, Topic.RESPONSE_POSTED),
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

    @event_subscriber(
        broker,
        topics,
        Topic.DIRECTORY_ORGANISATIONS,
        group_id=settings.group_id,
        title="search:directory.organisations",
        description="Keep each organisation's name: it has its page before its first story.",
    )
    async def on_organisation_listed(event: OrganisationListed, envelope: Envelope) -> None:
        await handlers.list_organisation(ref.get.pool, event, event_id=envelope.id)
