"""The index's tables as a set: clone them empty into a build schema, and swap a built set
in for the live one. Used by a rebuild (service_layer/rebuild.py).

The live index is the tables named in INDEX_TABLES in LIVE_SCHEMA (where the migrations
created them); the service reads and writes them by unqualified name. A build is the same
tables in a schema of its own, cloned from the live definitions (columns, defaults, checks,
keys, indexes and triggers, so a later migration's changes are cloned too); swapping moves
the live tables out and the built ones in, in the caller's transaction.

A new index table (a later migration) must be added to INDEX_TABLES. Index tables must not
own sequences (serial columns): a swapped-out table's sequence would go with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from candour_common.db import Connection

LIVE_SCHEMA = "public"
BUILD_SCHEMA_PREFIX = "search_build_"
RETIRED_SCHEMA_PREFIX = "search_retired_"
# Everything a consumed event writes, inbox included: the inbox must describe exactly the
# events the index it sits beside was built from. The counts and the sample are written by
# search_stories' triggers (migration 0012), so a build keeps its own.
#
# The swap locks the live tables in this order, so every reader that reads several of them
# in one transaction must take them in this order too (or a reader and a swap can deadlock):
# count deltas before counts (the readers' UNION ALL, the compaction), counts before the
# sample, all of them before search_stories.
INDEX_TABLES = (
    "search_facet_deltas",
    "search_facet_counts",
    "search_day_deltas",
    "search_monthly_counts",
    "search_daily_counts",
    "search_sample",
    "search_stories",
    "search_responses",
    "search_response_versions",
    "search_withdrawn",
    "inbox",
)
# The table every index write starts with (the inbox): locking it against writes stops
# the live consumers before they change anything, while readers carry on.
WRITE_BARRIER_TABLE = "inbox"
# The count tables: derived from the stories alone, so a bulk load can write them in a
# transaction of their own, beside the one writing the stories (adapters/bulk_index.py).
COUNT_TABLES = (
    "search_facet_deltas",
    "search_facet_counts",
    "search_day_deltas",
    "search_monthly_counts",
    "search_daily_counts",
)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _retarget(definition: str, table: str, schema: str) -> str:
    """Point a CREATE INDEX / CREATE TRIGGER definition of a live table at its clone."""
    live = f" ON {LIVE_SCHEMA}.{table} "
    if live not in definition:
        raise RuntimeError(f"unexpected definition of {table}: {definition}")
    return definition.replace(live, f" ON {quote(schema)}.{table} ", 1)


async def stale_builds(conn: Connection) -> list[str]:
    """Build (and retired) schemas left behind by rebuilds that did not finish."""
    rows = await conn.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 OR nspname LIKE $2"
        " ORDER BY nspname",
        BUILD_SCHEMA_PREFIX.replace("_", r"\_") + "%",
        RETIRED_SCHEMA_PREFIX.replace("_", r"\_") + "%",
    )
    return [r["nspname"] for r in rows]


async def drop_schema(conn: Connection, schema: str) -> None:
    await conn.execute(f"DROP SCHEMA IF EXISTS {quote(schema)} CASCADE")


async def create_build(conn: Connection, schema: str) -> None:
    """Create `schema` holding an empty clone of every index table."""
    await create_bare_build(conn, schema)
    await complete_build(conn, schema)


async def create_bare_build(conn: Connection, schema: str) -> None:
    """Create `schema` holding a clone of every index table without keys, indexes or
    triggers: what a bulk load fills (COPY, then `complete_build`)."""
    # Definitions are printed schema-qualified only for names outside the search_path.
    async with conn.transaction():
        await conn.execute("SET LOCAL search_path = pg_catalog")
        await conn.execute(f"CREATE SCHEMA {quote(schema)}")
        for table in INDEX_TABLES:
            await conn.execute(
                f"CREATE TABLE {quote(schema)}.{table}"
                f" (LIKE {LIVE_SCHEMA}.{table} INCLUDING ALL EXCLUDING INDEXES)"
            )


async def complete_build(
    conn: Connection, schema: str, tables: Sequence[str] = INDEX_TABLES
) -> None:
    """Add the keys, indexes and remaining triggers of the live tables to a bare build
    (to `tables` of it)."""
    # Possibly inside the caller's transaction, where SET LOCAL would outlive this.
    search_path = await conn.fetchval("SELECT current_setting('search_path')")
    async with conn.transaction():
        await conn.execute("SELECT set_config('search_path', 'pg_catalog', true)")
        await _complete_build(conn, schema, tables)
        await conn.execute("SELECT set_config('search_path', $1, true)", search_path)


async def _complete_build(conn: Connection, schema: str, tables: Sequence[str]) -> None:
    for table in tables:
        live = f"{LIVE_SCHEMA}.{table}"
        # Keys first (by name, so they keep their names), then the other indexes.
        for row in await conn.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint"
            " WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x') ORDER BY conname",
            live,
        ):
            await conn.execute(
                f"ALTER TABLE {quote(schema)}.{table}"
                f" ADD CONSTRAINT {quote(row['conname'])} {row['definition']}"
            )
        for row in await conn.fetch(
            """
            SELECT pg_get_indexdef(i.indexrelid) AS definition FROM pg_index i
            WHERE i.indrelid = $1::regclass
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            ORDER BY i.indexrelid
            """,
            live,
        ):
            await conn.execute(_retarget(row["definition"], table, schema))
        for definition in await _trigger_definitions(conn, live):
            await conn.execute(_retarget(definition, table, schema))


async def _trigger_definitions(conn: Connection, live: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT pg_get_triggerdef(oid) AS definition FROM pg_trigger"
        " WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY tgname",
        live,
    )
    return [r["definition"] for r in rows]


async def compact_counts(conn: Connection) -> None:
    """Fold the delta rows of the count tables `conn` writes (a build's, through its
    search_path); only the rebuild writes a build, so no lock is needed."""
    await conn.execute("SELECT search_compact_counts()")


async def analyse(conn: Connection, schema: str, tables: Sequence[str] = INDEX_TABLES) -> None:
    """Give the planner statistics of the built tables before they take over."""
    for table in tables:
        await conn.execute(f"ANALYZE {quote(schema)}.{table}")


async def hold_writes(conn: Connection, *, lock_timeout_ms: int) -> None:
    """In the caller's transaction: block the live consumers' writes (not reads) until it ends.

    EXCLUSIVE conflicts with the ROW EXCLUSIVE lock every write takes, not with the
    ACCESS SHARE of readers. The live handlers write the inbox first, so once this lock
    is granted none of them is halfway through an event.
    """
    await conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
    await conn.execute(f"LOCK TABLE {LIVE_SCHEMA}.{WRITE_BARRIER_TABLE} IN EXCLUSIVE MODE")


async def swap_in(conn: Connection, schema: str, retired: str) -> None:
    """In the caller's transaction: move the live tables out and the built ones in, then drop
    the old ones. Sessions that had statements prepared against the old tables re-resolve
    the names on their next use (PostgreSQL replans after DDL), so they use the new tables.
    """
    await conn.execute(f"CREATE SCHEMA {quote(retired)}")
    for table in INDEX_TABLES:
        await conn.execute(f"ALTER TABLE {LIVE_SCHEMA}.{table} SET SCHEMA {quote(retired)}")
    for table in INDEX_TABLES:
        await conn.execute(f"ALTER TABLE {quote(schema)}.{table} SET SCHEMA {LIVE_SCHEMA}")
    await conn.execute(f"DROP SCHEMA {quote(retired)} CASCADE")
    await conn.execute(f"DROP SCHEMA {quote(schema)}")


async def connect_to_build(dsn: str, schema: str) -> asyncpg.Connection:
    """A connection whose unqualified table names are the build's (functions stay public),
    so the ordinary handlers and repository write the build."""
    return await asyncpg.connect(
        dsn, server_settings={"search_path": f"{quote(schema)}, {LIVE_SCHEMA}"}
    )
