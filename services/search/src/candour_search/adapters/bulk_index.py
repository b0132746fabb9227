"""Writing a folded index (index_fold.py) into a bare build (index_tables.create_bare_build)
with COPY, then what the live tables' triggers and indexes would have made of it.

1. While the replay reads, every story revision the fold still holds when its batch is
   written is COPYed into an unlogged staging table of the build, numbered (texts are not
   kept in memory); its trigger computes the document there, in parallel with the
   replay, or, when the live documents may be reused (`documents_reusable`) and the live
   index holds the story with the same indexed columns, notes which live row version it
   compared (`live_version`) instead. A revision superseded (or withdrawn) within its
   batch is never staged.
2. At the end, per story kept, its staged number and response columns are COPYed and
   committed. Then two connections work at once:
   - the loading one, in the caller's transaction: one INSERT ... SELECT moves the kept
     revisions into search_stories, adding the response text to the document of stories
     that have responses (a story staged with a live version takes that version's
     document if it is still the live row and its response text is the same too, else
     its whole document is computed there); the sample is derived from search_stories;
     keys, indexes and the remaining triggers are added (index_tables.complete_build) and
     the tables ANALYZEd, all in the transaction that wrote the rows (no hint bits);
   - the other, in a transaction of its own: the count tables computed from the staged
     rows of the kept stories in one pass each (the rows the statement triggers' deltas
     fold into, migration 0012, zero cells left out), the fold's small tables (responses,
     their versions, withdrawals, the inbox) COPYed, their keys and indexes, ANALYZE.
   A build is only used once both committed (a rebuild that fails drops it whole).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence

import asyncpg
import structlog

from candour_search.adapters.index_tables import (
    COUNT_TABLES,
    INDEX_TABLES,
    LIVE_SCHEMA,
    analyse,
    complete_build,
    quote,
)
from candour_search.adapters.repository import STORY_COLUMNS, story_values
from candour_search.index_fold import (
    AGGREGATE_COLUMNS,
    RESPONSE_COLUMNS,
    VERSION_COLUMNS,
    IndexFold,
    StagedStory,
)

log = structlog.get_logger(__name__)

STAGED_STORIES = "bulk_staged_stories"
KEPT_STORIES = "bulk_kept_stories"
# Memory of the load's own session, for its transaction: the count tables' aggregate
# (some 40 cells a story) and the index builds (the GIN index of documents above all)
# stay in memory instead of spilling to disk.
WORK_MEM = "256MB"
MAINTENANCE_WORK_MEM = "256MB"


async def documents_reusable(conn: asyncpg.Connection) -> bool:
    """Whether the live index's documents were made by the recipe in force (migration
    0036): then a story whose indexed columns are unchanged can keep its live document."""
    return bool(
        await conn.fetchval(
            "SELECT recipe = search_document_recipe() FROM search_documents_made_by"
        )
    )


async def create_staging(conn: asyncpg.Connection, schema: str, *, reuse: bool) -> None:
    """The staging tables of a bulk load. Staged stories get a trigger that computes each
    document (without response text) as the rows arrive, while the replay reads on; with
    `reuse` (see `documents_reusable`) a story the live index holds with the same indexed
    columns gets no document, only the live row version it matched (`live_version`),
    whose document is taken at the end."""
    s = quote(schema)
    await conn.execute(
        f"CREATE UNLOGGED TABLE {s}.{STAGED_STORIES} (number bigint NOT NULL,"
        f" live_version xid,"
        f" LIKE {s}.search_stories INCLUDING DEFAULTS)"
    )
    await conn.execute(
        f"CREATE TRIGGER staged_document BEFORE INSERT ON {s}.{STAGED_STORIES}"
        f" FOR EACH ROW EXECUTE FUNCTION {LIVE_SCHEMA}.search_staged_document"
        f"('{'reuse' if reuse else 'compute'}')"
    )
    await conn.execute(
        f"""
        CREATE UNLOGGED TABLE {s}.{KEPT_STORIES} AS
        SELECT 0::bigint AS number, {", ".join(AGGREGATE_COLUMNS)}
        FROM {s}.search_stories WITH NO DATA
        """  # noqa: S608 - fixed names only
    )


async def staged_reusable(conn: asyncpg.Connection, schema: str) -> int:
    """How many staged stories matched a live row (their documents not computed)."""
    return int(
        await conn.fetchval(
            f"SELECT count(live_version) FROM {quote(schema)}.{STAGED_STORIES}"  # noqa: S608
        )
    )


async def record_recipe(conn: asyncpg.Connection, recipe: str | None) -> None:
    """In the switch's transaction: the recipe that made every document of the index
    switched in (None: not known, the next rebuild computes them all)."""
    await conn.execute("DELETE FROM search_documents_made_by")
    if recipe is not None:
        await conn.execute("INSERT INTO search_documents_made_by (recipe) VALUES ($1)", recipe)


async def current_recipe(conn: asyncpg.Connection) -> str:
    return str(await conn.fetchval("SELECT search_document_recipe()"))


async def copy_staged(conn: asyncpg.Connection, schema: str, staged: Sequence[StagedStory]) -> None:
    if staged:
        await conn.copy_records_to_table(
            STAGED_STORIES,
            schema_name=schema,
            columns=("number", *STORY_COLUMNS),
            records=[(s.number, *story_values(s.event)) for s in staged],
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
    conn: asyncpg.Connection, beside: asyncpg.Connection, schema: str, fold: IndexFold
) -> dict[str, float]:
    """Write what the fold ended with, derive the count tables and the sample, build the
    keys, indexes and triggers and ANALYZE: the build is then as the live handlers would
    have left it (counts folded). The stories and the sample are written in `conn`'s
    transaction (the caller's); the count tables (derived from the staged rows) and the
    fold's small tables (responses, versions, withdrawals, inbox) in a transaction of
    their own on `beside` (a second connection to the build, not in a transaction), at the
    same time: PostgreSQL works on two cores. Returns (and logs) the seconds each step
    took; the steps on `beside` are named so."""
    s = quote(schema)
    started = time.perf_counter()
    # Committed first, so `beside` sees it: the response columns of each story kept.
    await _copy(
        beside,
        schema,
        KEPT_STORIES,
        ("number", *AGGREGATE_COLUMNS),
        ((number, *aggregates) for number, aggregates in fold.kept_stories()),
    )
    kept = time.perf_counter()
    async with asyncio.TaskGroup() as both:
        stories = both.create_task(_write_stories(conn, schema, fold))
        counts = both.create_task(_write_beside(beside, schema, fold))
    await conn.execute(f"DROP TABLE {s}.{STAGED_STORIES}, {s}.{KEPT_STORIES}")
    return {
        "kept stories copied": round(kept - started, 3),
        **stories.result(),
        **{f"{step} (beside)": seconds for step, seconds in counts.result().items()},
    }


async def _session_memory(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT set_config('work_mem', $1, true)", WORK_MEM)
    await conn.execute("SELECT set_config('maintenance_work_mem', $1, true)", MAINTENANCE_WORK_MEM)


# Written on the second connection: the count tables (from the staged rows) and the
# fold's small tables. The others (the stories and the sample drawn from them) in the
# caller's transaction.
FOLD_TABLES = ("search_responses", "search_response_versions", "search_withdrawn", "inbox")
BESIDE_TABLES = COUNT_TABLES + FOLD_TABLES
STORY_TABLES = tuple(t for t in INDEX_TABLES if t not in BESIDE_TABLES)


async def _write_stories(
    conn: asyncpg.Connection, schema: str, fold: IndexFold
) -> dict[str, float]:
    s = quote(schema)
    step = _Steps()
    await _session_memory(conn)
    columns = ", ".join(STORY_COLUMNS)
    # The staged document is the trigger's with no response text: its last part, the
    # response text (weight D), is empty. Appending that part for the text the story ends
    # with gives what the trigger computes over the final row (the tests compare both).
    # A story staged with a live row version takes that version's document if it is still
    # the live row (the live index moves on meanwhile; a changed row is a new version)
    # and its response text is the same too, and otherwise has it computed here.
    live = f"{LIVE_SCHEMA}.search_stories"
    await conn.execute(
        f"""
        INSERT INTO {s}.search_stories ({columns}, {", ".join(AGGREGATE_COLUMNS)}, document)
        SELECT {", ".join(f"st.{c}" for c in STORY_COLUMNS)},
               {", ".join(f"k.{c}" for c in AGGREGATE_COLUMNS)},
               CASE WHEN live.story_id IS NOT NULL THEN live.document
                    WHEN st.live_version IS NOT NULL
                    THEN search_story_document(
                        st.title, st.body, st.tags, st.organisation_name, st.service_name,
                        k.response_text, st.language
                    )
                    WHEN k.response_text = '' THEN st.document
                    ELSE st.document
                         || setweight(
                             to_tsvector(search_text_config(st.language), k.response_text), 'D'
                         )
               END
        FROM {s}.{STAGED_STORIES} st JOIN {s}.{KEPT_STORIES} k USING (number)
        LEFT JOIN {live} live
          ON live.story_id = st.story_id
         AND live.xmin = st.live_version
         AND live.response_text = k.response_text
        """  # noqa: S608 - fixed names only
    )
    step("stories inserted")
    await derive_sample(conn, schema)
    step("sample derived")
    await complete_build(conn, schema, STORY_TABLES)
    step("keys, indexes and triggers built")
    # In the loading transaction: its own rows need no hint bits, where the first scan by
    # a later transaction sets them on every page it samples, each such change WAL-logged
    # as a full page image when data checksums are on. What a rebuild's catch-up adds
    # later is a small share of the rows.
    await analyse(conn, schema, STORY_TABLES)
    step("analysed")
    return step.seconds


async def _write_beside(conn: asyncpg.Connection, schema: str, fold: IndexFold) -> dict[str, float]:
    step = _Steps()
    async with conn.transaction():
        await _session_memory(conn)
        await derive_counts(conn, schema)
        step("counts derived")
        await _copy(
            conn,
            schema,
            "search_responses",
            RESPONSE_COLUMNS,
            (row.values() for row in fold.responses.values()),
        )
        await _copy(conn, schema, "search_response_versions", VERSION_COLUMNS, fold.version_rows())
        await _copy(
            conn, schema, "search_withdrawn", ("story_id", "withdrawn_at"), fold.withdrawn.items()
        )
        await _copy(
            conn,
            schema,
            "inbox",
            ("consumer", "event_id", "topic"),
            ((fold.consumer, event_id, topic) for event_id, topic in fold.inbox.items()),
        )
        step("responses, versions, withdrawals and inbox copied")
        await complete_build(conn, schema, BESIDE_TABLES)
        await analyse(conn, schema, BESIDE_TABLES)
        step("their keys and indexes built, analysed")
    return step.seconds


class _Steps:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def __call__(self, done: str) -> None:
        now = time.perf_counter()
        self.seconds[done] = round(now - self.started, 3)
        log.info("bulk load step", step=done, seconds=self.seconds[done])
        self.started = now


async def derive_counts(conn: asyncpg.Connection, schema: str) -> None:
    """What search_stories' statement triggers would have written for the stories kept
    (the staged rows of the kept numbers, with their response columns), folded
    (search_compact_counts): one row per non-empty cell. The same sums as migration
    0012's, which filled these tables for the stories indexed before it."""
    s = quote(schema)
    # The columns the counts read, of each story kept, once (the staged rows are wide).
    await conn.execute(
        f"""
        CREATE TEMPORARY TABLE bulk_counted ON COMMIT DROP AS
        SELECT st.organisation_id, st.service_id, st.tags, st.criticality, st.published_at,
               st.source, st.programme, st.individuals, st.patients, st.carers, st.staff,
               k.response_count, k.change_planned, k.change_made
        FROM {s}.{STAGED_STORIES} st JOIN {s}.{KEPT_STORIES} k USING (number)
        """  # noqa: S608 - fixed names only
    )
    await conn.execute(
        f"""
        INSERT INTO {s}.search_facet_counts (level, organisation_id, service_id, tag,
            other_tag, criticality, responded, change_planned, change_made, stories)
        SELECT cell.*, count(*)
        FROM bulk_counted st
        CROSS JOIN LATERAL search_facet_cells(
            st.organisation_id, st.service_id, st.tags, st.criticality, st.response_count > 0,
            st.change_planned, st.change_made
        ) cell
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        """  # noqa: S608 - fixed names only
    )
    await conn.execute(
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
        FROM bulk_counted st
        GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5
        """  # noqa: S608 - fixed names only
    )
    await conn.execute(
        f"""
        INSERT INTO {s}.search_daily_counts (day, source, programme, stories, responded,
            change_planned, change_made, individuals, patients, carers, staff)
        SELECT (st.published_at AT TIME ZONE 'UTC')::date, st.source,
               coalesce(st.programme, ''), count(*),
               count(*) FILTER (WHERE st.response_count > 0),
               count(*) FILTER (WHERE st.change_planned),
               count(*) FILTER (WHERE st.change_made), sum(st.individuals), sum(st.patients),
               sum(st.carers), sum(st.staff)
        FROM bulk_counted st
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3
        """  # noqa: S608 - fixed names only
    )


async def derive_sample(conn: asyncpg.Connection, schema: str) -> None:
    """The sample rows search_stories' triggers would have written (migration 0012)."""
    s = quote(schema)
    await conn.execute(
        f"""
        INSERT INTO {s}.search_sample (story_id, sample_key, organisation_id, service_id,
            tags, criticality, response_count, change_planned, change_made, published_at,
            first_response_at, document, language)
        SELECT story_id, search_sample_key(story_id), organisation_id, service_id,
               tags, criticality, response_count, change_planned, change_made,
               published_at, first_response_at, document, language
        FROM {s}.search_stories
        WHERE search_sample_key(story_id) IS NOT NULL
        """  # noqa: S608 - fixed names only
    )


async def forget_themes(conn: asyncpg.Connection, story_ids: Iterable[object]) -> None:
    """Withdrawn stories lose their theme assignment, as the live withdrawal handler does
    (the live table, through the build's search_path: themes are not rebuilt)."""
    ids = list(story_ids)
    if ids:
        await conn.execute("DELETE FROM insight_story_themes WHERE story_id = ANY($1::uuid[])", ids)
