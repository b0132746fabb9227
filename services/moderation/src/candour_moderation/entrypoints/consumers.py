"""Moderation's event subscriptions: stories arrive to be screened, and are withdrawn;
notifications reports what became of each safeguarding escalation.

The event consumer (one per process, for all three topics) has recorded each event in
the inbox and taken its story's lock before a handler here runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from candour_common.cloudevents import Envelope
from candour_common.consumer import Delivered, Subscriptions
from candour_common.events import SafeguardingUpdated, StorySubmitted, StoryWithdrawn
from candour_common.topics import Topic
from candour_moderation.service_layer import handlers
from candour_moderation.service_layer.unit_of_work import ModerationUnitOfWork
from candour_moderation.settings import ModerationSettings

SERVICE = "moderation"


def subscriptions(
    settings: ModerationSettings,
    *,
    screen: handlers.ScreenStories,
    observe: handlers.DecisionObserver,
    screener: str | None = None,
    observe_screenings: handlers.ScreeningObserver | None = None,
) -> Subscriptions[ModerationUnitOfWork]:
    """What moderation does with each topic it reads; `screen` screens stories off the
    event loop, `observe` is told of each decision once committed (metrics).
    `screener` is the version of the screener `screen` runs: a story carrying intake's
    screening by the same one (of the same text) is not screened again, unless the
    settings say never to. `observe_screenings` counts who screened (metrics)."""
    subs: Subscriptions[ModerationUnitOfWork] = Subscriptions(SERVICE)
    reuse_from = screener if settings.reuse_intake_screening else None

    async def receive(uow: ModerationUnitOfWork, events: Sequence[StorySubmitted]) -> None:
        await handlers.receive_stories(
            uow,
            events,
            now=datetime.now(UTC),
            screen=screen,
            screener=reuse_from,
            auto_approve=settings.auto_approve,
            observe=observe,
            observe_screenings=observe_screenings or (lambda screened_by, count: None),
        )

    async def on_submitted_batch(
        uow: ModerationUnitOfWork, delivered: Sequence[Delivered[StorySubmitted]]
    ) -> None:
        # Under a backlog: the batch's stories screened together, written set-based.
        await receive(uow, [d.event for d in delivered])

    @subs.on(
        Topic.STORY_SUBMITTED,
        description="Screen each submitted story and put it in the moderation queue.",
        batch=on_submitted_batch,
    )
    async def on_story_submitted(
        uow: ModerationUnitOfWork, event: StorySubmitted, envelope: Envelope
    ) -> None:
        await receive(uow, [event])

    @subs.on(
        Topic.STORY_WITHDRAWN,
        description="Take a withdrawn story out of the queue and erase its text.",
    )
    async def on_story_withdrawn(
        uow: ModerationUnitOfWork, event: StoryWithdrawn, envelope: Envelope
    ) -> None:
        await handlers.withdraw_story(uow, event, now=datetime.now(UTC))

    @subs.on(
        Topic.SAFEGUARDING_UPDATED,
        description="Record who was alerted, who acknowledged, and re-alerts, for the console.",
    )
    async def on_safeguarding_updated(
        uow: ModerationUnitOfWork, event: SafeguardingUpdated, envelope: Envelope
    ) -> None:
        await handlers.record_escalation_update(uow, event)

    return subs
