"""Writing a folded index (index_fold.py) into a bare build (index_tables.create_bare_build)
with COPY, then what the live tables' triggers and indexes would have made of it.

1. While the replay reads, every story revision the fold applies is COPYed into the
   build's search_stories, given for the load the live table's document trigger: the
   PostgreSQL backend computes each document (without response text) as rows arrive, in
   parallel with the replay, and each row is written once.
2. At the end the revisions the fold dropped since (replaced by a newer one, or withdrawn)
   are deleted, and the stories that hold responses get their response columns and the
   response text's part of the document; the fold's small tables (responses, their
   versions, withdrawals, the inbox) are COPYed.
3. The count tables and the sample are computed from search_stories in one pass each:
   the rows the statement triggers' deltas fold into (migration 0012), zero cells left out.
4. Keys, indexes and the remaining triggers are added (index_tables.complete_build).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence

import asyncpg
import structlog

from candour_common.events import StoryApproved
from candour_search.adapters.index_tables import clone_row_triggers, complete_build, quote
from candour_search.adapters.repository import STORY_COLUMNS, story_values
from candour_search.index_fold import (
    AGGREGATE_COLUMNS,
    RESPONSE_COLUMNS,
    VERSION_COLUMNS,
    IndexFold,
)

log = structlog.get_logger(__name__)

STORIES = "search_stories"
ANSWERED_STORIES = "bulk_answered_stories"
DROPPED_STORIES = "bulk_dropped_stories"
# Memory of the load's own sessions, for their transactions: the count tables' aggregate
# (some 40 cells a story) and the index builds (the GIN index of documents above all)
# stay in memory instead of spilling to disk.
WORK_MEM = "256MB"
MAINTENANCE_WORK_MEM = "256MB"


async def create_staging(conn: asyncpg.Connection, schema: str) -> None:
    """Prepare a bare build for a bulk load: its search_stories gets the live table's
    row triggers (the document), so PostgreSQL computes each document as rows arrive,
    while the replay reads on; and the small tables the end of the load joins against."""
    s = quote(schema)
    await clone_row_triggers(conn, STORIES, schema, STORIES)
    await conn.execute(
        f"""
        CREATE UNLOGGED TABLE {s}.{ANSWERED_STORIES} AS
        SELECT story_id, revision, 0 AS part, {", ".join(AGGREGATE_COLUMNS)}
        FROM {s}.{STORIES} WITH NO DATA
        """  # noqa: S608 - fixed names only
    )
    await conn.execute(
        f"""
        CREATE UNLOGGED TABLE {s}.{DROPPED_STORIES} AS
        SELECT story_id, revision FROM {s}.{STORIES} WITH NO DATA
        """  # noqa: S608 - fixed names only
    )


async def copy_staged(
    conn: asyncpg.Connection, schema: str, staged: Sequence[StoryApproved]
) -> None:
    if staged:
        await conn.copy_records_to_table(
            STORIES,
            schema_name=schema,
            columns=STORY_COLUMNS,
            records=[story_values(event) for event in staged],
        )


async def _copy(
    conn: asyncpg.Connection,
    schema: str,
    table: str,
    columns: Sequence[str],
    rows: Iterable[tuple[object, ...]],
) -> None:
    await conn.copy_records_to_table(table, schema_name=schema, columns=columns, records=rows)


async def write_fold(
    streams: Sequence[asyncpg.Connection], schema: str, fold: IndexFold
) -> dict[str, float]:
    """Complete the stories written while reading, write the fold's other tables, derive
    the count tables and the sample, and build the keys, indexes and triggers: the build
    is then as the live handlers would have left it (counts folded). The parts of each
    step run at once over `streams` (connections to the build, one core each), each in
    transactions of its own: the build is the rebuild's alone until the switch, and a
    load that fails is dropped whole. Returns (and logs) the seconds each step took."""
    s = quote(schema)
    first = streams[0]
    parts = len(streams)
    step = _Steps()
    async with first.transaction():
        # The load's document trigger goes: the end of the load completes documents
        # itself, and complete_build adds the live table's triggers.
        for name in await first.fetch(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal",
            f"{s}.{STORIES}",
        ):
            await first.execute(f"DROP TRIGGER {quote(name['tgname'])} ON {s}.{STORIES}")
        await _copy(first, schema, DROPPED_STORIES, ("story_id", "revision"), fold.dropped)
        await _copy(
            first,
            schema,
            ANSWERED_STORIES,
            ("story_id", "revision", "part", *AGGREGATE_COLUMNS),
            (
                (story_id, revision, n % parts, *aggregates)
                for n, (story_id, revision, aggregates) in enumerate(fold.kept_stories())
                if aggregates[0]  # response_count: the others keep the columns' defaults
            ),
        )
    step("answered and dropped stories copied")
    # The document written is the trigger's with no response text: its last part, the
    # response text (weight D), is empty. Appending that part for the text the story ends
    # with gives what the trigger computes over the final row (the tests compare both).
    settings = ", ".join(f"{c} = k.{c}" for c in AGGREGATE_COLUMNS)
    await _each(
        streams,
        [
            f"""
            DELETE FROM {s}.{STORIES} st USING {s}.{DROPPED_STORIES} d
            WHERE st.story_id = d.story_id AND st.revision = d.revision
            """,  # noqa: S608 - fixed names only
            *(
                f"""
                UPDATE {s}.{STORIES} st
                SET {settings},
                    document = st.document
                        || setweight(to_tsvector('english'::regconfig, k.response_text), 'D')
                FROM {s}.{ANSWERED_STORIES} k
                WHERE k.part = {part} AND st.story_id = k.story_id AND st.revision = k.revision
                """  # noqa: S608 - fixed names and numbers only
                for part in range(parts)
            ),
        ],
    )
    await first.execute(f"DROP TABLE {s}.{ANSWERED_STORIES}, {s}.{DROPPED_STORIES}")
    step("stories completed")
    async with first.transaction():
        await _copy(
            first,
            schema,
            "search_responses",
            RESPONSE_COLUMNS,
            (row.values() for row in fold.responses.values()),
        )
        await _copy(first, schema, "search_response_versions", VERSION_COLUMNS, fold.version_rows())
        await _copy(
            first, schema, "search_withdrawn", ("story_id", "withdrawn_at"), fold.withdrawn.items()
        )
        await _copy(
            first,
            schema,
            "inbox",
            ("consumer", "event_id", "topic"),
            ((fold.consumer, event_id, topic) for event_id, topic in fold.inbox.items()),
        )
    step("responses, versions, withdrawals and inbox copied")
    await _each(streams, derived_counts_and_sample(schema))
    step("counts and sample derived")
    async with first.transaction():
        await _bulk_memory(first)
        await complete_build(first, schema)
    step("keys, indexes and triggers built")
    return step.seconds


async def _bulk_memory(conn: asyncpg.Connection) -> None:
    """Memory for the caller's transaction (see WORK_MEM)."""
    await conn.execute("SELECT set_config('work_mem', $1, true)", WORK_MEM)
    await conn.execute("SELECT set_config('maintenance_work_mem', $1, true)", MAINTENANCE_WORK_MEM)


async def _each(streams: Sequence[asyncpg.Connection], statements: Sequence[str]) -> None:
    """Run the statements, each in its own transaction, over the streams at once: a free
    stream takes the next statement."""
    queue = list(reversed(statements))

    async def work(conn: asyncpg.Connection) -> None:
        while queue:
            statement = queue.pop()
            async with conn.transaction():
                await _bulk_memory(conn)
                await conn.execute(statement)

    tasks = [asyncio.create_task(work(conn)) for conn in streams]
    try:
        await asyncio.gather(*tasks)
    finally:
        # One failed: stop the others (their statements are cancelled on the server).
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _Steps:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def __call__(self, done: str) -> None:
        now = time.perf_counter()
        self.seconds[done] = round(now - self.started, 3)
        log.info("bulk load step", step=done, seconds=self.seconds[done])
        self.started = now


def derived_counts_and_sample(schema: str) -> list[str]:
    """What search_stories' statement triggers would have written for its rows, folded
    (search_compact_counts): one row per non-empty cell. The same sums as migration
    0012's, which filled these tables for the stories indexed before it. Independent
    statements, the costliest first (they may run at once)."""
    s = quote(schema)
    return [
        f"""
        INSERT INTO {s}.search_facet_counts (level, organisation_id, service_id, tag,
            other_tag, criticality, responded, change_planned, change_made, stories)
        SELECT cell.*, count(*)
        FROM {s}.search_stories st
        CROSS JOIN LATERAL search_facet_cells(
            st.organisation_id, st.service_id, st.tags, st.criticality, st.response_count > 0,
            st.change_planned, st.change_made
        ) cell
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        """,  # noqa: S608 - fixed names only
        f"""
        INSERT INTO {s}.search_monthly_counts (month, organisation_id, service_id, source,
            programme, stories, responded, change_planned, change_made, individuals,
            patients, carers, staff)
        SELECT date_trunc('month', st.published_at, 'UTC')::date, st.organisation_id,
               coalesce(st.service_id, ''), st.source, coalesce(st.programme, ''), count(*),
               count(*) FILTER (WHERE st.response_count > 0),
               count(*) FILTER (WHERE st.change_planned),
               count(*) FILTER (WHERE st.change_made), sum(st.individuals), sum(st.patients),
               sum(st.carers), sum(st.staff)
        FROM {s}.search_stories st
        GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5
        """,  # noqa: S608 - fixed names only
        f"""
        INSERT INTO {s}.search_daily_counts (day, source, programme, stories, responded,
            change_planned, change_made, individuals, patients, carers, staff)
        SELECT (st.published_at AT TIME ZONE 'UTC')::date, st.source,
               coalesce(st.programme, ''), count(*),
               count(*) FILTER (WHERE st.response_count > 0),
               count(*) FILTER (WHERE st.change_planned),
               count(*) FILTER (WHERE st.change_made), sum(st.individuals), sum(st.patients),
               sum(st.carers), sum(st.staff)
        FROM {s}.search_stories st
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3
        """,  # noqa: S608 - fixed names only
        f"""
        INSERT INTO {s}.search_sample (story_id, sample_key, organisation_id, service_id,
            tags, criticality, response_count, change_planned, change_made, published_at,
            first_response_at, document)
        SELECT story_id, search_sample_key(story_id), organisation_id, service_id,
               tags, criticality, response_count, change_planned, change_made,
               published_at, first_response_at, document
        FROM {s}.search_stories
        WHERE search_sample_key(story_id) IS NOT NULL
        """,  # noqa: S608 - fixed names only
    ]


async def forget_themes(conn: asyncpg.Connection, story_ids: Iterable[object]) -> None:
    """Withdrawn stories lose their theme assignment, as the live withdrawal handler does
    (the live table, through the build's search_path: themes are not rebuilt)."""
    ids = list(story_ids)
    if ids:
        await conn.execute("DELETE FROM insight_story_themes WHERE story_id = ANY($1::uuid[])", ids)
