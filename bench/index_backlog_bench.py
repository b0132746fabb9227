"""How fast search indexes a backlog of story.approved: record by record, or with the
topic's batch handler (set-based writes).

    .venv/bin/python bench/index_backlog_bench.py [--events 20000] [--batch 300] [--no-record]

Under a backlog the event consumer (`candour_common.consumer`) takes up to
`CANDOUR_CONSUMER_MAX_BATCH` records (default 300) and handles them in one unit of
work: one inbox statement for them all, then either each record's handler
(`handlers.index_story`: a withdrawal check, an upsert and the response columns, per
story) or the topic's batch handler (`handlers.index_stories`: one withdrawal check,
one upsert statement, one for the response columns of the stories written). This runs both
the way the consumer does, Kafka left out, each into a fresh database with search's
migrations (triggers, count tables and indexes included), over the same seeded
events (search_bench's generated stories; one in ten a second revision of an
earlier story). The raw baseline of the same run: the same rows with one
`executemany` per batch into a table of the same columns without indexes or
triggers.

Prints events/s, the benchmark process's CPU per event and the database backends'
CPU per event for each way, and each as a ratio of the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from harness.cli import common_arguments, console
from harness.record import append_row, machine_facts, machine_text, write_result
from harness.servers import infrastructure
from harness.usage import DatabaseBackendsCpu, own_cpu_seconds
from search_bench import Generator

from candour_common.db.inbox import InboxEntry
from candour_common.events import (
    OrganisationRef,
    PublicAuthor,
    Relationship,
    ServiceRef,
    StoryApproved,
    Tags,
)
from candour_common.runtime import migrate_database
from candour_search.adapters.repository import STORY_COLUMNS, story_values
from candour_search.bootstrap import MIGRATIONS
from candour_search.service_layer import handlers
from candour_search.service_layer.unit_of_work import PostgresSearchUnitOfWork

Handle = Callable[[PostgresSearchUnitOfWork, Sequence[StoryApproved]], Awaitable[None]]


def approvals(seed: int, count: int) -> list[tuple[uuid.UUID, StoryApproved]]:
    """(event id, event): new stories, one in ten a second revision of an earlier one."""
    generator = Generator(seed, organisations=50, services_per_organisation=6)
    out: list[tuple[uuid.UUID, StoryApproved]] = []
    for n in range(count):
        if n and n % 10 == 0:
            _, earlier = out[generator.rng.randrange(len(out))]
            event = earlier.model_copy(
                update={"revision": earlier.revision + 1, "title": earlier.title + " (edited)"}
            )
        else:
            row = generator.story()
            event = StoryApproved(
                story_id=row[0],
                published_at=row[13],
                revision=row[1],
                title=row[2],
                body=row[3],
                organisation=OrganisationRef(id=row[4], name=row[5]),
                service=ServiceRef(id=row[6], name=row[7]) if row[6] else None,
                author=PublicAuthor(display_name=row[8], relationship=Relationship(row[9])),
                tags=Tags.model_validate_json(row[10]),
                criticality=row[12],
            )
        out.append((uuid.uuid4(), event))
    return out


async def one_by_one(uow: PostgresSearchUnitOfWork, events: Sequence[StoryApproved]) -> None:
    for event in events:
        await handlers.index_story(uow, event)


async def fresh_database(server: str) -> tuple[str, str]:
    name = f"bench_index_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = server.rsplit("/", 1)[0] + f"/{name}"
    await migrate_database(dsn, MIGRATIONS)
    return name, dsn


async def drop_database(server: str, name: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def timed(server: str, run: Callable[[asyncpg.Pool], Awaitable[None]]) -> dict[str, float]:
    name, dsn = await fresh_database(server)
    try:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
        try:
            async with DatabaseBackendsCpu(server, name) as backends:
                cpu = own_cpu_seconds()
                started = time.perf_counter()
                await run(pool)
                seconds = time.perf_counter() - started
                cpu = own_cpu_seconds() - cpu
        finally:
            await pool.close()
    finally:
        await drop_database(server, name)
    return {"seconds": seconds, "client_cpu": cpu, "database_cpu": backends.total}


def consuming(
    events: list[tuple[uuid.UUID, StoryApproved]], batch: int, handle: Handle
) -> Callable[[asyncpg.Pool], Awaitable[None]]:
    """What the event consumer does with a backlog, batch by batch."""

    async def run(pool: asyncpg.Pool) -> None:
        for start in range(0, len(events), batch):
            chunk = events[start : start + batch]
            uow = PostgresSearchUnitOfWork(pool, service="search")
            async with uow:
                new = await uow.record_new(
                    [InboxEntry(i, e.topic.value, e.story_id) for i, e in chunk]
                )
                await handle(uow, [e for i, e in chunk if i in new])

    return run


def raw_inserts(
    events: list[tuple[uuid.UUID, StoryApproved]], batch: int
) -> Callable[[asyncpg.Pool], Awaitable[None]]:
    columns = ", ".join(STORY_COLUMNS)
    values = ", ".join(f"${n}" for n in range(1, len(STORY_COLUMNS) + 1))

    async def run(pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn:
            await conn.execute(
                f"CREATE TABLE raw_stories AS SELECT {columns} FROM search_stories WITH NO DATA"  # noqa: S608 - fixed names
            )
            for start in range(0, len(events), batch):
                async with conn.transaction():
                    await conn.executemany(
                        f"INSERT INTO raw_stories ({columns}) VALUES ({values})",  # noqa: S608
                        [story_values(e) for _, e in events[start : start + batch]],
                    )

    return run


def per_event(result: dict[str, float], events: int) -> dict[str, float]:
    return {
        "events_per_second": events / result["seconds"],
        "client_cpu_ms": 1000 * result["client_cpu"] / events,
        "database_cpu_ms": 1000 * result["database_cpu"] / events,
    }


async def main_async(args: argparse.Namespace) -> None:
    async with infrastructure(args) as infra:
        events = approvals(args.seed, args.events)
        console.print(f"{len(events):,} story.approved events, batches of {args.batch}")
        ways: dict[str, Callable[[asyncpg.Pool], Awaitable[None]]] = {
            "raw baseline": raw_inserts(events, args.batch),
            "record by record": consuming(events, args.batch, one_by_one),
            "batch handler": consuming(events, args.batch, handlers.index_stories),
        }
        results: dict[str, dict[str, float]] = {}
        for way, run in ways.items():
            results[way] = per_event(await timed(infra.postgres_url, run), len(events))
            r = results[way]
            console.print(
                f"{way:>17}: {r['events_per_second']:8,.0f} events/s, "
                f"CPU per event {r['client_cpu_ms']:.3f} ms here + "
                f"{r['database_cpu_ms']:.3f} ms in PostgreSQL"
            )
        raw = results["raw baseline"]["events_per_second"]
        for way in ("record by record", "batch handler"):
            ratio = results[way]["events_per_second"] / raw
            console.print(f"{way}: {ratio:.2f} of the raw baseline")
        speedup = (
            results["batch handler"]["events_per_second"]
            / results["record by record"]["events_per_second"]
        )
        console.print(f"batch handler / record by record: {speedup:.2f}x")
        facts = machine_facts(infra)
        result: dict[str, Any] = {"args": vars(args), "machine": facts, "results": results}
        path = write_result("index-backlog", result, args.out_dir)
        console.print(f"written {path}")
        if not args.no_record:

            def text(way: str) -> str:
                r = results[way]
                return (
                    f"{r['events_per_second']:,.0f} events/s, CPU/event "
                    f"{r['client_cpu_ms']:.2f} ms + {r['database_cpu_ms']:.2f} ms PostgreSQL"
                )

            append_row(
                "index backlog (story.approved)",
                machine_text(facts),
                f"batch handler {text('batch handler')}; record by record "
                f"{text('record by record')} ({speedup:.2f}x)",
                f"executemany into a bare table: {raw:,.0f} rows/s",
                f"{args.events:,} events, batches of {args.batch}; load average at start "
                f"{facts['load_average_at_start'][0]:.1f}; {path.name}",
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common_arguments(parser)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=300, help="records per consumer batch")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
