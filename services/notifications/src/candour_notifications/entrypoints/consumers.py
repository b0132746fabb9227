"""Kafka subscribers of notifications: each writes what is owed, then wakes the worker."""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka import KafkaBroker

from candour_common.cloudevents import Envelope
from candour_common.events import (
    OrganisationListed,
    ResponsePosted,
    SafeguardingRaised,
    StoryApproved,
    StorySubmitted,
    StoryWithdrawn,
)
from candour_common.messaging import event_subscriber
from candour_common.runtime import PlatformRef
from candour_common.settings import ServiceSettings
from candour_common.topics import Topic
from candour_notifications.service_layer import handlers
from candour_notifications.service_layer.handlers import Links
from candour_notifications.settings import NotificationsSettings


def register(
    broker: KafkaBroker,
    settings: ServiceSettings,
    ref: PlatformRef,
    *,
    wake_worker: Callable[[], None],
) -> None:
    assert isinstance(settings, NotificationsSettings)
    links = Links(
        public_base_url=settings.public_base_url, intake_base_url=settings.intake_public_url
    )

    @event_subscriber(
        broker,
        settings.topics,
        Topic.STORY_SUBMITTED,
        group_id=settings.group_id,
        title=f"notifications:{Topic.STORY_SUBMITTED.value}",
        description="Keeps the author's address if they want to hear back.",
    )
    async def on_story_submitted(event: StorySubmitted, envelope: Envelope) -> None:
        await handlers.store_author_contact(ref.get.pool, event, event_id=envelope.id)

    @event_subscriber(
        broker,
        settings.topics,
        Topic.STORY_APPROVED,
        group_id=settings.group_id,
        title=f"notifications:{Topic.STORY_APPROVED.value}",
        description="Alerts matching `stories` subscribers.",
    )
    async def on_story_approved(event: StoryApproved, envelope: Envelope) -> None:
        owed = await handlers.alert_story_approved(
            ref.get.pool, event, event_id=envelope.id, links=links
        )
        if owed:
            wake_worker()

    safeguarding = settings.safeguarding_policy()

    @event_subscriber(
        broker,
        settings.topics,
        Topic.SAFEGUARDING_RAISED,
        group_id=settings.group_id,
        title=f"notifications:{Topic.SAFEGUARDING_RAISED.value}",
        description=(
            "Alerts the organisation's safeguarding contacts at once (or the duty moderators "
            "when it has none); tells moderation on safeguarding.updated."
        ),
    )
    async def on_safeguarding_raised(event: SafeguardingRaised, envelope: Envelope) -> None:
        if await handlers.alert_safeguarding(
            ref.get.pool, event, event_id=envelope.id, policy=safeguarding
        ):
            wake_worker()

    @event_subscriber(
        broker,
        settings.topics,
        Topic.RESPONSE_POSTED,
        group_id=settings.group_id,
        title=f"notifications:{Topic.RESPONSE_POSTED.value}",
        description="Tells the author (if asked) and `responses` subscribers.",
    )
    async def on_response_posted(event: ResponsePosted, envelope: Envelope) -> None:
        owed = await handlers.alert_response_posted(
            ref.get.pool, event, event_id=envelope.id, links=links
        )
        if owed:
            wake_worker()

    @event_subscriber(
        broker,
        settings.topics,
        Topic.STORY_WITHDRAWN,
        group_id=settings.group_id,
        title=f"notifications:{Topic.STORY_WITHDRAWN.value}",
        description="Erases the author's contact; cancels unsent emails.",
    )
    async def on_story_withdrawn(event: StoryWithdrawn, envelope: Envelope) -> None:
        await handlers.forget_withdrawn_story(ref.get.pool, event, event_id=envelope.id)

    @event_subscriber(
        broker,
        settings.topics,
        Topic.DIRECTORY_ORGANISATIONS,
        group_id=settings.group_id,
        title=f"notifications:{Topic.DIRECTORY_ORGANISATIONS.value}",
        description="Keeps each organisation's services, which the alerts page offers.",
    )
    async def on_organisation_listed(event: OrganisationListed, envelope: Envelope) -> None:
        await handlers.keep_directory_entry(ref.get.pool, event, event_id=envelope.id)
