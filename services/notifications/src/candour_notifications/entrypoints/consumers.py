"""Notifications' event subscriptions: each writes the emails owed, then (once its
transaction has committed) wakes the delivery worker.

The event consumer (one per process, for all seven topics) has recorded each event in
the inbox and taken its story's lock before a handler here runs: a redelivered event
never reaches one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from candour_common.cloudevents import Envelope
from candour_common.consumer import Delivered, Subscriptions
from candour_common.events import (
    OrganisationListed,
    ResponsePosted,
    SafeguardingRaised,
    StoryApproved,
    StoryRejected,
    StorySubmitted,
    StoryWithdrawn,
)
from candour_common.topics import Topic
from candour_notifications.service_layer import handlers
from candour_notifications.service_layer.handlers import Links
from candour_notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from candour_notifications.settings import NotificationsSettings

SERVICE = "notifications"


def subscriptions(
    settings: NotificationsSettings, *, wake_worker: Callable[[], None]
) -> Subscriptions[NotificationsUnitOfWork]:
    """What notifications does with each topic it reads; `wake_worker` is called after
    the commit of a transaction that owed emails."""
    subs: Subscriptions[NotificationsUnitOfWork] = Subscriptions(SERVICE)
    links = Links(
        public_base_url=settings.search_public_url, intake_base_url=settings.intake_public_url
    )
    safeguarding = settings.safeguarding_policy()

    def wake_after_commit(uow: NotificationsUnitOfWork, owed: int) -> None:
        if owed:
            uow.after_commit(wake_worker)

    async def on_submitted_batch(
        uow: NotificationsUnitOfWork, delivered: Sequence[Delivered[StorySubmitted]]
    ) -> None:
        # Under a backlog (a bulk import): submissions without an address set-based.
        owed = await handlers.store_author_contacts(uow, [d.event for d in delivered], links=links)
        wake_after_commit(uow, owed)

    @subs.on(
        Topic.STORY_SUBMITTED,
        description=(
            "Keeps the author's address (if given), language and title from the newest "
            "version of the story, to tell them the outcome and about responses."
        ),
        batch=on_submitted_batch,
    )
    async def on_story_submitted(
        uow: NotificationsUnitOfWork, event: StorySubmitted, envelope: Envelope
    ) -> None:
        owed = await handlers.store_author_contact(uow, event, links=links)
        wake_after_commit(uow, owed)

    async def on_approved_batch(
        uow: NotificationsUnitOfWork, delivered: Sequence[Delivered[StoryApproved]]
    ) -> None:
        # Under a backlog: the batch's alerts set-based, a statement per step.
        owed = await handlers.alert_stories_approved(
            uow, [(d.event, d.envelope.id) for d in delivered], links=links
        )
        wake_after_commit(uow, owed)

    @subs.on(
        Topic.STORY_APPROVED,
        description="Tells the author it is published; alerts matching `stories` subscribers.",
        batch=on_approved_batch,
    )
    async def on_story_approved(
        uow: NotificationsUnitOfWork, event: StoryApproved, envelope: Envelope
    ) -> None:
        owed = await handlers.alert_story_approved(uow, event, event_id=envelope.id, links=links)
        wake_after_commit(uow, owed)

    @subs.on(
        Topic.STORY_REJECTED,
        description=(
            "Tells the author (if they gave an address) why it was not published and how "
            "to edit and send it again."
        ),
    )
    async def on_story_rejected(
        uow: NotificationsUnitOfWork, event: StoryRejected, envelope: Envelope
    ) -> None:
        owed = await handlers.tell_author_rejected(uow, event, event_id=envelope.id, links=links)
        wake_after_commit(uow, owed)

    @subs.on(
        Topic.SAFEGUARDING_RAISED,
        description=(
            "Alerts the organisation's safeguarding contacts at once (or the duty moderators "
            "when it has none); tells moderation on safeguarding.updated."
        ),
    )
    async def on_safeguarding_raised(
        uow: NotificationsUnitOfWork, event: SafeguardingRaised, envelope: Envelope
    ) -> None:
        owed = await handlers.alert_safeguarding(
            uow, event, event_id=envelope.id, policy=safeguarding
        )
        wake_after_commit(uow, owed)

    @subs.on(
        Topic.RESPONSE_POSTED,
        description="Tells the author (if asked) and `responses` subscribers.",
    )
    async def on_response_posted(
        uow: NotificationsUnitOfWork, event: ResponsePosted, envelope: Envelope
    ) -> None:
        owed = await handlers.alert_response_posted(uow, event, event_id=envelope.id, links=links)
        wake_after_commit(uow, owed)

    @subs.on(
        Topic.STORY_WITHDRAWN,
        description="Erases the author's contact; cancels unsent emails.",
    )
    async def on_story_withdrawn(
        uow: NotificationsUnitOfWork, event: StoryWithdrawn, envelope: Envelope
    ) -> None:
        await handlers.forget_withdrawn_story(uow, event)

    @subs.on(
        Topic.DIRECTORY_ORGANISATIONS,
        description="Keeps each organisation's services, which the alerts page offers.",
    )
    async def on_organisation_listed(
        uow: NotificationsUnitOfWork, event: OrganisationListed, envelope: Envelope
    ) -> None:
        await handlers.keep_directory_entry(uow, event)

    return subs
