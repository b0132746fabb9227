"""Search's event subscriptions: the public topics that build the index, the directory's
organisations and intake's voices summaries.

The event consumer (one per process, for every topic here) has recorded each event in
the inbox, and taken its story's lock, before a handler here runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from candour_common.cloudevents import Envelope
from candour_common.consumer import Delivered, Subscriptions, TombstoneHandler
from candour_common.events import (
    OrganisationListed,
    ResponsePosted,
    StoryApproved,
    StoryWithdrawn,
    VoicesSummarised,
)
from candour_common.settings import ServiceSettings
from candour_common.topics import Topic
from candour_search.service_layer import handlers
from candour_search.service_layer.unit_of_work import CONSUMER, SearchUnitOfWork

SERVICE = CONSUMER


def _erase(topic: Topic) -> TombstoneHandler[SearchUnitOfWork]:
    async def on_tombstone(uow: SearchUnitOfWork, key: str, envelope: Envelope | None) -> None:
        at = envelope.time if envelope is not None else datetime.now(UTC)
        await handlers.erase_by_tombstone(uow, topic, key, at)

    return on_tombstone


def subscriptions(settings: ServiceSettings) -> Subscriptions[SearchUnitOfWork]:
    """What search does with each topic it reads."""
    subs: Subscriptions[SearchUnitOfWork] = Subscriptions(SERVICE)

    async def on_approved_batch(
        uow: SearchUnitOfWork, delivered: Sequence[Delivered[StoryApproved]]
    ) -> None:
        # Under a backlog: the batch's stories written in a few set-based statements.
        await handlers.index_stories(uow, [d.event for d in delivered])

    @subs.on(
        Topic.STORY_APPROVED,
        description=(
            "Index a published story (a newer revision replaces an older one); a tombstone "
            "(null value) takes it out."
        ),
        batch=on_approved_batch,
        tombstone=_erase(Topic.STORY_APPROVED),
    )
    async def on_story_approved(
        uow: SearchUnitOfWork, event: StoryApproved, envelope: Envelope
    ) -> None:
        await handlers.index_story(uow, event)

    @subs.on(
        Topic.RESPONSE_POSTED,
        description=(
            "Attach a staff response to its story in the index; a tombstone takes it out."
        ),
        tombstone=_erase(Topic.RESPONSE_POSTED),
    )
    async def on_response_posted(
        uow: SearchUnitOfWork, event: ResponsePosted, envelope: Envelope
    ) -> None:
        await handlers.add_response(uow, event)

    @subs.on(
        Topic.STORY_WITHDRAWN,
        description="Delete a withdrawn story and its responses from the index.",
    )
    async def on_story_withdrawn(
        uow: SearchUnitOfWork, event: StoryWithdrawn, envelope: Envelope
    ) -> None:
        await handlers.withdraw_story(uow, event)

    async def on_organisations_batch(
        uow: SearchUnitOfWork, delivered: Sequence[Delivered[OrganisationListed]]
    ) -> None:
        await handlers.list_organisations(uow, [d.event for d in delivered])

    @subs.on(
        Topic.DIRECTORY_ORGANISATIONS,
        description="Keep each organisation's name: it has its page before its first story.",
        batch=on_organisations_batch,
    )
    async def on_organisation_listed(
        uow: SearchUnitOfWork, event: OrganisationListed, envelope: Envelope
    ) -> None:
        await handlers.list_organisations(uow, [event])

    @subs.on(
        Topic.INSIGHT_VOICES,
        description=(
            'Keep each programme\'s newest summary of "about you" answers (counts, small '
            "ones suppressed) for the deep dive's voices view."
        ),
    )
    async def on_voices_summarised(
        uow: SearchUnitOfWork, event: VoicesSummarised, envelope: Envelope
    ) -> None:
        await handlers.record_voices(uow, event)

    return subs
