"""The consumer's batches, on PostgreSQL: a backlog handled in batches (story.approved
through its batch handler, set-based) ends with the same index, table by table, as the
same events handled one by one.

The batches are handled as the event consumer handles them (candour_common.consumer):
one unit of work per batch, one inbox statement for its events, consecutive
story.approved events to the batch handler together, every other event and tombstone
to its own handler, in order.
"""

from __future__ import annotations

import dataclasses
import random
import uuid

import asyncpg
import pytest

from candour_common.cloudevents import Envelope
from candour_common.consumer import Delivered
from candour_common.db.inbox import InboxEntry
from candour_common.events import StoryApproved
from candour_search.adapters import index_tables
from candour_search.adapters.event_log import LoggedEvent, LoggedTombstone
from candour_search.entrypoints import consumers
from candour_search.service_layer import handlers
from candour_search.service_layer.unit_of_work import SearchUnitOfWorkOn
from candour_search.settings import SearchSettings
from tests.integration.search.conftest import approved, response, withdrawn
from tests.integration.search.test_bulk_rebuild import (
    Logged,
    apply_one_by_one,
    database,
    stream,
    table_rows,
)

pytestmark = pytest.mark.integration
__all__ = ["database"]  # the fixture, shared with test_bulk_rebuild


def _envelope(logged: LoggedEvent) -> Envelope:
    envelope = Envelope.new(logged.event, service="moderation")
    return dataclasses.replace(envelope, id=logged.event_id)


async def apply_in_batches(
    dsn: str, schema: str, logged: list[Logged], seed: int, *, size: int | None = None
) -> int:
    """Returns how many story.approved events went through the batch handler in runs of
    more than one."""
    subs = consumers.subscriptions(SearchSettings())
    rng = random.Random(seed)
    batched = 0
    conn = await index_tables.connect_to_build(dsn, schema)
    try:
        position = 0
        while position < len(logged):
            take = size or rng.choice([1, 7, 50, 300])
            chunk, seen = [], set()
            for item in logged[position : position + take]:
                # The consumer hands one poll's copies of an event on once.
                if isinstance(item, LoggedEvent):
                    if item.event_id in seen:
                        continue
                    seen.add(item.event_id)
                chunk.append(item)
            position += take
            async with conn.transaction():
                uow = SearchUnitOfWorkOn(conn)
                async with uow:
                    new = await uow.record_new(
                        [
                            InboxEntry(i.event_id, i.event.topic.value, i.event.story())
                            for i in chunk
                            if isinstance(i, LoggedEvent)
                        ]
                    )
                    items = [
                        i for i in chunk if isinstance(i, LoggedTombstone) or i.event_id in new
                    ]
                    i = 0
                    while i < len(items):
                        item = items[i]
                        if isinstance(item, LoggedTombstone):
                            # As the topic's tombstone handler does, at the record's time.
                            await handlers.erase_by_tombstone(uow, item.topic, item.key, item.at)
                            i += 1
                            continue
                        subscription = subs.get(item.event.topic)
                        if isinstance(item.event, StoryApproved):
                            j = i
                            while (
                                j < len(items)
                                and isinstance(items[j], LoggedEvent)
                                and isinstance(items[j].event, StoryApproved)  # type: ignore[union-attr]
                            ):
                                j += 1
                            assert subscription.handle_batch is not None
                            run = items[i:j]
                            await subscription.handle_batch(
                                uow,
                                [Delivered(e.event, _envelope(e)) for e in run],  # type: ignore[union-attr]
                            )
                            batched += len(run) if len(run) > 1 else 0
                            i = j
                            continue
                        await subscription.handle(uow, item.event, _envelope(item))
                        i += 1
        await index_tables.compact_counts(conn)
    finally:
        await conn.close()
    return batched


@pytest.mark.parametrize("seed", [4, 11])
async def test_batches_end_with_the_index_of_one_by_one(database: str, seed: int) -> None:
    logged = stream(seed)
    control = await asyncpg.connect(database)
    try:
        await index_tables.create_build(control, "search_build_one_by_one")
        await index_tables.create_build(control, "search_build_batched")
        await apply_one_by_one(database, "search_build_one_by_one", logged, seed)
        batched = await apply_in_batches(database, "search_build_batched", logged, seed)
        assert batched > 100, "the batch handler had runs of approvals to write"
        assert await control.fetchval(
            "SELECT count(*) FROM search_build_batched.search_stories WHERE response_count > 1"
        )
        for table in index_tables.INDEX_TABLES:
            assert await table_rows(control, "search_build_batched", table) == await table_rows(
                control, "search_build_one_by_one", table
            ), table
    finally:
        await control.close()


async def test_one_batch_of_tricky_approvals_ends_as_one_by_one(database: str) -> None:
    """In one batch: equal revisions with other text (the first stays), revisions out of
    order, a story withdrawn before its approvals, a response before its story."""
    twins, ladder, gone, answered = (approved(title=t) for t in ("twin", "1", "gone", "early"))
    events = [
        withdrawn(gone),
        response(answered, body="An answer before the story."),
        approved(story_id=twins.story_id, title="first of equals"),
        approved(story_id=twins.story_id, title="second of equals"),
        approved(story_id=ladder.story_id, revision=3, title="3"),
        approved(story_id=ladder.story_id, revision=1, title="1 again"),
        approved(story_id=ladder.story_id, revision=3, title="3 again"),
        approved(story_id=gone.story_id, revision=2, title="after the withdrawal"),
        answered,
        approved(story_id=answered.story_id, revision=2, title="early, edited"),
    ]
    logged: list[Logged] = [LoggedEvent(uuid.uuid4(), e) for e in events]
    control = await asyncpg.connect(database)
    try:
        await index_tables.create_build(control, "search_build_one_by_one")
        await index_tables.create_build(control, "search_build_batched")
        await apply_one_by_one(database, "search_build_one_by_one", logged, 1)
        batched = await apply_in_batches(database, "search_build_batched", logged, 1, size=100)
        assert batched == 8  # two runs: six approvals, then two
        titles = await control.fetch(
            "SELECT title, response_count FROM search_build_batched.search_stories ORDER BY title"
        )
        assert [(r["title"], r["response_count"]) for r in titles] == [
            ("3", 0),
            ("early, edited", 1),
            ("first of equals", 0),
        ]
        for table in index_tables.INDEX_TABLES:
            assert await table_rows(control, "search_build_batched", table) == await table_rows(
                control, "search_build_one_by_one", table
            ), table
    finally:
        await control.close()
