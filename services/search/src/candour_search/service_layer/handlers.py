"""Use cases of search. Each receives its unit of work (and anything else it needs) as
arguments, and never sees a pool or a connection.

The index is written only from public events, each applied at most once: the event
consumer records it in the inbox, in the same transaction as its change, before a handler
here runs; so Kafka may redeliver freely.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import structlog

from candour_common import keys
from candour_common.db import Connection
from candour_common.db.inbox import InboxEntry
from candour_common.events import (
    OrganisationListed,
    ResponsePosted,
    StoryApproved,
    StoryWithdrawn,
    VoicesSummarised,
)
from candour_common.topics import Topic
from candour_search.adapters.directory import DirectoryEntry, ListedOrganisation
from candour_search.domain import (
    PublishedStory,
    SearchPage,
    SearchStories,
    StatsReport,
    StoryStatsQuery,
)
from candour_search.service_layer.unit_of_work import (
    CONSUMER,
    SearchUnitOfWork,
    SearchUnitOfWorkOn,
)
from candour_search.story_map import MAP_LIMIT, MapColour, StoryMap, story_map, year_start

__all__ = ["CONSUMER"]

log = structlog.get_logger(__name__)

# ---------------------------------------------------------------- writing the index


async def index_story(uow: SearchUnitOfWork, event: StoryApproved) -> None:
    """Add a published story to the index, or replace an older revision of it."""
    async with uow:
        if await uow.index.is_withdrawn(event.story_id):
            log.info("ignored approval of a withdrawn story")
            return
        # A new story counts the responses consumed before it (another topic).
        if not await uow.index.upsert_story(event):
            log.info("ignored stale revision", revision=event.revision)


async def index_stories(uow: SearchUnitOfWork, events: Sequence[StoryApproved]) -> None:
    """`index_story` for consecutive events of a batch, with set-based writes.

    The same end state as applying them one by one: a withdrawn story stays out; of a
    story's revisions the newest is kept (the first of equals, as one by one a later
    equal revision is stale); a new story counts the responses consumed before it.
    """
    async with uow:
        withdrawn = await uow.index.withdrawn_among(list({e.story_id for e in events}))
        newest: dict[uuid.UUID, StoryApproved] = {}
        for event in events:
            if event.story_id in withdrawn:
                continue
            kept = newest.get(event.story_id)
            if kept is None or kept.revision < event.revision:
                newest[event.story_id] = event
        written = await uow.index.upsert_stories(list(newest.values()))
    ignored = len(events) - len(written)
    if ignored:
        log.info("approvals superseded, stale or withdrawn", count=ignored, indexed=len(written))


async def add_response(uow: SearchUnitOfWork, event: ResponsePosted) -> None:
    """Attach a staff response to its story (its text becomes searchable); a newer version
    replaces it, a deleted one takes it out, an older one is ignored."""
    async with uow:
        if await uow.index.is_withdrawn(event.story_id):
            log.info("ignored response to a withdrawn story")
            return
        if await uow.index.add_response(event):
            await uow.index.refresh_response_aggregates([event.story_id])
        else:
            log.info("ignored an older version of a response", version=event.version)


async def withdraw_story(uow: SearchUnitOfWork, event: StoryWithdrawn) -> None:
    """The author withdrew the story: delete it and its responses from the index."""
    async with uow:
        await uow.index.withdraw_story(event.story_id, event.withdrawn_at)
        await uow.themes.forget_story(event.story_id)


async def erase_by_tombstone(uow: SearchUnitOfWork, topic: Topic, key: str, at: datetime) -> None:
    """A null value on a compacted topic: what its key named is gone.

    On story.approved (key: story id) the story leaves the index and stays out, as for
    a withdrawal; on response.posted (key: `<story id>/<response id>`) that response
    goes, and with a bare story id (records from before responses had their own keys)
    every response of the story. Idempotent, so no inbox. A key that names nothing
    (ValueError) is a bad message.
    """
    async with uow:
        if topic is Topic.STORY_APPROVED:
            await uow.index.withdraw_story(uuid.UUID(key), at)
        elif topic is Topic.RESPONSE_POSTED:
            story_part, _, response_part = key.partition(keys.SEPARATOR)
            story_id = uuid.UUID(story_part)
            if response_part:
                await uow.index.remove_response(uuid.UUID(response_part))
            else:
                await uow.index.remove_responses(story_id)
            await uow.index.refresh_response_aggregates([story_id])
        else:
            raise ValueError(f"search does not expect tombstones on {topic.value}")
    log.info("erased by tombstone", tombstone_topic=topic.value)


async def list_organisations(uow: SearchUnitOfWork, events: Sequence[OrganisationListed]) -> None:
    """Keep the directory's names of each organisation (English, and Welsh where it has
    one), so it has its page (and is in the organisations index) before its first
    published story. Of one organisation's entries in `events` the last wins, as one by
    one."""
    entries = {
        event.organisation_id: DirectoryEntry(event.organisation_id, event.name, event.name_cy)
        for event in events
    }
    async with uow:
        await uow.directory.upsert_organisations(entries.values())


async def record_voices(uow: SearchUnitOfWork, event: VoicesSummarised) -> None:
    """Keep the programme's newest summary (an older one arriving late changes nothing)."""
    async with uow:
        await uow.voices.save(event)


async def compact_counts(uow: SearchUnitOfWork) -> int:
    """Fold the delta rows the index's triggers wrote into the count tables (readers sum
    them either way: this keeps the sums short). Returns the rows folded."""
    async with uow:
        return await uow.index.compact_counts() or 0


# ---------------------------------------------------------------- the rebuild's replay

IndexEvent = StoryApproved | ResponsePosted | StoryWithdrawn


async def apply_event(conn: Connection, event: IndexEvent, *, event_id: uuid.UUID) -> None:
    """Apply any event the index is built from, once, in the transaction the caller holds
    on `conn`: how the rebuild's catch-up replays the live handlers into its build schema
    (the connection's search_path), recording the build's own inbox as the consumer does."""
    uow = SearchUnitOfWorkOn(conn)
    async with uow:
        if not await uow.record_new([InboxEntry(event_id, event.topic.value, event.story())]):
            return
        if isinstance(event, StoryApproved):
            await index_story(uow, event)
        elif isinstance(event, ResponsePosted):
            await add_response(uow, event)
        else:
            await withdraw_story(uow, event)


async def apply_tombstone(conn: Connection, topic: Topic, key: str, at: datetime) -> None:
    """`erase_by_tombstone` in the transaction the caller holds on `conn` (the rebuild)."""
    await erase_by_tombstone(SearchUnitOfWorkOn(conn), topic, key, at)


# ---------------------------------------------------------------- reading the index


async def search(uow: SearchUnitOfWork, query: SearchStories) -> SearchPage:
    # One snapshot, so the total and facets describe the same stories as the page.
    async with uow:
        await uow.reads.snapshot()
        # Counting first: its sample tells whether the words are common. (It reads the count
        # tables or the sample before search_stories: see index_tables.INDEX_TABLES.)
        summary = await uow.reads.search_summary(query)
        page = await uow.reads.search_page(query, words_last=summary.common_words)
    found = page.hits
    next_cursor = None
    if len(found) > query.limit:
        found = found[: query.limit]
        next_cursor = query.cursor_after(found[-1], page.window)
    return SearchPage(
        total=summary.total,
        hits=tuple(found),
        facets=summary.facets,
        next_cursor=next_cursor,
        total_is_estimate=summary.estimated,
        facets_are_estimates=summary.estimated,
    )


async def get_story(uow: SearchUnitOfWork, story_id: uuid.UUID) -> PublishedStory | None:
    async with uow:
        await uow.reads.snapshot()
        return await uow.reads.story(story_id)


async def story_stats(uow: SearchUnitOfWork, query: StoryStatsQuery) -> StatsReport:
    # One snapshot, so the groups add up to the overall figures.
    async with uow:
        await uow.reads.snapshot()
        return await uow.reads.story_stats(query)


async def organisation_story_map(
    uow: SearchUnitOfWork, organisation_id: str, *, now: datetime, colour: MapColour
) -> StoryMap:
    async with uow:
        await uow.reads.snapshot()
        total, stories = await uow.reads.stories_since(
            organisation_id, year_start(now), limit=MAP_LIMIT
        )
    return story_map(stories, total=total, now=now, colour=colour)


async def organisation_index(uow: SearchUnitOfWork) -> list[ListedOrganisation]:
    async with uow:
        await uow.reads.snapshot()
        return await uow.reads.organisation_index()


async def directory_name(uow: SearchUnitOfWork, organisation_id: str) -> str | None:
    """The organisation's name if the directory lists it (it may have no story yet)."""
    async with uow:
        return await uow.reads.directory_name(organisation_id)


async def welsh_names(uow: SearchUnitOfWork) -> dict[str, str]:
    """The directory's Welsh name of each organisation that has one, by id."""
    async with uow:
        return await uow.reads.welsh_names()
