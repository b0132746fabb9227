"""story-intake's event subscriptions: it follows moderation's decisions for the
author's status page and staff's inbox.

The event consumer (one per process, for both topics) has recorded each event in the
inbox and taken its story's lock before a handler here runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from candour_common.cloudevents import Envelope
from candour_common.consumer import Delivered, Subscriptions
from candour_common.events import StoryApproved, StoryRejected
from candour_common.topics import Topic
from candour_intake.service_layer import handlers
from candour_intake.service_layer.unit_of_work import IntakeUnitOfWork
from candour_intake.settings import IntakeSettings

SERVICE = "story-intake"


def subscriptions(settings: IntakeSettings) -> Subscriptions[IntakeUnitOfWork]:
    """What story-intake does with each topic it reads."""
    subs: Subscriptions[IntakeUnitOfWork] = Subscriptions(SERVICE)

    async def on_approved_batch(
        uow: IntakeUnitOfWork, delivered: Sequence[Delivered[StoryApproved]]
    ) -> None:
        # Under a backlog (a moderation catch-up, a replay): one UPDATE statement.
        await handlers.record_approved(uow, [d.event for d in delivered])

    @subs.on(
        Topic.STORY_APPROVED,
        description="Marks the story published on the author's status page.",
        batch=on_approved_batch,
    )
    async def on_story_approved(
        uow: IntakeUnitOfWork, event: StoryApproved, envelope: Envelope
    ) -> None:
        await handlers.record_approved(uow, [event])

    @subs.on(
        Topic.STORY_REJECTED,
        description="Marks the story rejected (with its reason) on the author's status page.",
    )
    async def on_story_rejected(
        uow: IntakeUnitOfWork, event: StoryRejected, envelope: Envelope
    ) -> None:
        await handlers.record_rejected(uow, event)

    return subs
