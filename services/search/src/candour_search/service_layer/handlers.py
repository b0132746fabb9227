"""Use cases of search. Each receives its dependencies as arguments.

The index is written only from public events, each applied at most once (the
inbox), in the same transaction as its change; so Kafka may redeliver freely.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import structlog

from candour_common import keys
from candour_common.db import Connection
from candour_common.db.inbox import record_once, record_story_event_once
from candour_common.events import (
    OrganisationListed,
    ResponsePosted,
    StoryApproved,
    StoryWithdrawn,
)
from candour_common.topics import Topic
from candour_search.adapters import (
    counts,
    directory,
    hits,
    repository,
    stats_repository,
    story_map_repository,
)
from candour_search.adapters.theme_repository import ThemeRepository
from candour_search.domain import (
    PublishedStory,
    SearchPage,
    SearchStories,
    StatsReport,
    StoryStatsQuery,
)
from candour_search.story_map import MAP_LIMIT, MapColour, StoryMap, story_map, year_start

CONSUMER = "search"

log = structlog.get_logger(__name__)


async def index_story(pool: asyncpg.Pool, event: StoryApproved, *, event_id: uuid.UUID) -> None:
    """Add a published story to the index, or replace an older revision of it."""
    async with pool.acquire() as conn, conn.transaction():
        await apply_story_approved(conn, event, event_id=event_id)


async def add_response(pool: asyncpg.Pool, event: ResponsePosted, *, event_id: uuid.UUID) -> None:
    """Attach a staff response to its story (its text becomes searchable); a newer version
    replaces it, a deleted one takes it out, an older one is ignored."""
    async with pool.acquire() as conn, conn.transaction():
        await apply_response_posted(conn, event, event_id=event_id)


async def withdraw_story(pool: asyncpg.Pool, event: StoryWithdrawn, *, event_id: uuid.UUID) -> None:
    """The author withdrew the story: delete it and its responses from the index."""
    async with pool.acquire() as conn, conn.transaction():
        await apply_story_withdrawn(conn, event, event_id=event_id)


async def list_organisation(
    pool: asyncpg.Pool, event: OrganisationListed, *, event_id: uuid.UUID
) -> None:
    """Keep the directory's name of an organisation, so it has its page (and is in the
    organisations index) before its first published story."""
    async with pool.acquire() as conn, conn.transaction():
        if await record_once(conn, consumer=CONSUMER, event_id=event_id, topic=event.topic.value):
            await directory.upsert_organisations(conn, [(event.organisation_id, event.name)])


# The same changes inside the caller's transaction: the live consumers run one event per
# transaction (above); a rebuild applies many per transaction (service_layer/rebuild.py).


async def apply_story_approved(
    conn: Connection, event: StoryApproved, *, event_id: uuid.UUID
) -> None:
    if not await record_story_event_once(conn, event, consumer=CONSUMER, event_id=event_id):
        return
    if await repository.is_withdrawn(conn, event.story_id):
        log.info("ignored approval of a withdrawn story")
        return
    if not await repository.upsert_story(conn, event):
        log.info("ignored stale revision", revision=event.revision)
        return
    # Responses consumed before this story (another topic) now count.
    await repository.refresh_response_aggregates(conn, event.story_id)


async def apply_response_posted(
    conn: Connection, event: ResponsePosted, *, event_id: uuid.UUID
) -> None:
    if not await record_story_event_once(conn, event, consumer=CONSUMER, event_id=event_id):
        return
    if await repository.is_withdrawn(conn, event.story_id):
        log.info("ignored response to a withdrawn story")
        return
    if await repository.add_response(conn, event):
        await repository.refresh_response_aggregates(conn, event.story_id)
    else:
        log.info("ignored an older version of a response", version=event.version)


async def apply_story_withdrawn(
    conn: Connection, event: StoryWithdrawn, *, event_id: uuid.UUID
) -> None:
    if not await record_story_event_once(conn, event, consumer=CONSUMER, event_id=event_id):
        return
    await repository.withdraw_story(conn, event.story_id, event.withdrawn_at)
    await ThemeRepository(conn).forget_story(event.story_id)


async def apply_tombstone(conn: Connection, topic: Topic, key: str, at: datetime) -> None:
    """A null value on a compacted topic: what its key named is gone.

    On story.approved (key: story id) the story leaves the index and stays out, as for
    a withdrawal; on response.posted (key: `<story id>/<response id>`) that response
    goes, and with a bare story id (records from before responses had their own keys)
    every response of the story. Idempotent, so no inbox. A key that names nothing
    (ValueError) is a bad message.
    """
    if topic is Topic.STORY_APPROVED:
        await repository.withdraw_story(conn, uuid.UUID(key), at)
    elif topic is Topic.RESPONSE_POSTED:
        story_part, _, response_part = key.partition(keys.SEPARATOR)
        story_id = uuid.UUID(story_part)
        if response_part:
            await repository.remove_response(conn, uuid.UUID(response_part))
        else:
            await repository.remove_responses(conn, story_id)
        await repository.refresh_response_aggregates(conn, story_id)
    else:
        raise ValueError(f"search does not expect tombstones on {topic.value}")


async def erase_by_tombstone(pool: asyncpg.Pool, topic: Topic, key: str, at: datetime) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await apply_tombstone(conn, topic, key, at)
    log.info("erased by tombstone", tombstone_topic=topic.value)


IndexEvent = StoryApproved | ResponsePosted | StoryWithdrawn


async def apply_event(conn: Connection, event: IndexEvent, *, event_id: uuid.UUID) -> None:
    """Apply any event the index is built from (what a rebuild replays)."""
    if isinstance(event, StoryApproved):
        await apply_story_approved(conn, event, event_id=event_id)
    elif isinstance(event, ResponsePosted):
        await apply_response_posted(conn, event, event_id=event_id)
    else:
        await apply_story_withdrawn(conn, event, event_id=event_id)


async def compact_counts(pool: asyncpg.Pool) -> int:
    """Fold the delta rows the index's triggers wrote into the count tables (readers sum
    them either way: this keeps the sums short). Returns the rows folded."""
    async with pool.acquire() as conn, conn.transaction():
        return await repository.compact_counts(conn) or 0


async def search(pool: asyncpg.Pool, query: SearchStories) -> SearchPage:
    # One snapshot, so the total and facets describe the same stories as the page.
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        # Counting first: its sample tells whether the words are common. (It reads the count
        # tables or the sample before search_stories: see index_tables.INDEX_TABLES.)
        summary = await counts.search_summary(conn, query)
        page = await hits.search_page(conn, query, words_last=summary.common_words)
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


async def get_story(pool: asyncpg.Pool, story_id: uuid.UUID) -> PublishedStory | None:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await repository.get_story(conn, story_id)


async def story_stats(pool: asyncpg.Pool, query: StoryStatsQuery) -> StatsReport:
    # One snapshot, so the groups add up to the overall figures.
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await stats_repository.story_stats(conn, query)


async def organisation_story_map(
    pool: asyncpg.Pool, organisation_id: str, *, now: datetime, colour: MapColour
) -> StoryMap:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        total, stories = await story_map_repository.stories_since(
            conn, organisation_id, year_start(now), limit=MAP_LIMIT
        )
    return story_map(stories, total=total, now=now, colour=colour)


async def organisation_index(pool: asyncpg.Pool) -> list[directory.ListedOrganisation]:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await directory.organisation_index(conn)


async def directory_name(pool: asyncpg.Pool, organisation_id: str) -> str | None:
    """The organisation's name if the directory lists it (it may have no story yet)."""
    async with pool.acquire() as conn:
        return await directory.directory_name(conn, organisation_id)
