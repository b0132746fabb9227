"""Search benchmark: a search index of generated stories (1,000,000 by default), timed
searches (the 15-query mix with totals and facets), filter-only browsing, story pages, the
public pages, /v1/stats and /v1/insight, next to raw PostgreSQL baselines from the same run.

    .venv/bin/python bench/search_bench.py                         # 1,000,000 stories
    .venv/bin/python bench/search_bench.py --stories 100000
    .venv/bin/python bench/search_bench.py --database bench1m --keep   # load once, keep it
    .venv/bin/python bench/search_bench.py --database bench1m --keep   # ... and time again

See bench/README.md. The database server is --server or CANDOUR_BENCH_DATABASE_URL (any
database on it), default the local test server; a fresh database is created and dropped,
unless --database names one (reused when it holds --stories stories, kept with --keep).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from harness.record import append_row, git_commit, machine_facts, write_result

from candour_common.db.uow import UnitOfWorkFactory
from candour_common.events import ChangeMarker
from candour_common.http.problems import install_problem_handlers
from candour_common.runtime import migrate_database
from candour_common.web import pages as web_pages
from candour_search.bootstrap import MIGRATIONS
from candour_search.domain import SearchStories, Sort
from candour_search.entrypoints import pages
from candour_search.entrypoints.http import router as api_router
from candour_search.entrypoints.insight_http import router as insight_router
from candour_search.service_layer import handlers
from candour_search.service_layer.unit_of_work import PostgresSearchUnitOfWork
from candour_search.settings import SearchSettings

HERE = Path(__file__).resolve().parent
DEFAULT_SERVER = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
CHUNK = 10_000

# Vocabulary of patient stories; drawn with Zipf-like weights so common words are common.
VOCABULARY = """
the a and to was i my of in it for were me they with on at but had we that this not be
very nurse nurses doctor doctors midwife midwives staff ward hospital appointment wait
waited waiting hours minutes care cared caring kind kindness rude helpful polite listened
explained explain told asked pain relief medication medicine discharge discharged scan
x-ray blood test results triage reception receptionist emergency department maternity
baby birth labour mother father daughter son wife husband partner family visit visiting
night day morning evening shift busy quiet clean dirty toilet bed beds food meal drink
water thirsty hungry cold warm noise noisy sleep slept operation surgery surgeon
consultant clinic outpatient referral letter phone called call answer answered cancelled
cancellation delay delayed late early parking car park bus ambulance paramedic crew
arrived wheelchair mobility dignity respect privacy curtain compassion communication
information leaflet understand understood confused worried anxious scared frightened
reassured grateful thankful thank thanks excellent wonderful amazing brilliant poor
terrible awful disappointed upset angry frustrated complaint improve improvement better
worse felt feel feeling feelings treated treatment diagnosis dementia mental health
crisis team community district nursing gp surgery pharmacy prescription repeat
""".split()  # noqa: SIM905 - prose reads better than a 200-item list
TAGS = [
    "kind staff", "waiting", "communication", "parking", "food", "dignity", "pain relief",
    "cleanliness", "discharge", "appointments", "listening", "information", "privacy",
    "compassion", "noise", "medication", "staffing", "facilities", "access", "respect",
    "grateful", "anxious", "frustrated", "reassured", "confused", "angry", "thankful",
    "safe", "unsafe", "lonely",
]  # fmt: skip
QUERIES: list[dict[str, Any]] = [
    {"q": "nurse"},
    {"q": "waited hours"},
    {"q": '"pain relief"'},
    {"q": "midwife -rude"},
    {"q": "parking or bus"},
    {"q": "discharge letter", "sort": "newest"},
    {"q": "kind", "tags": ("kind staff",)},
    {"q": "operation", "min_criticality": 3},
    {"q": "doctor", "responded": True},
    {"q": "food", "organisation": True},
    {},
    {"organisation": True},
    {"service": True},
    {"tags": ("waiting",), "min_criticality": 2, "max_criticality": 4},
    {"responded": False, "published_from": True},
]


def zipf_weights(n: int) -> list[float]:
    return [1 / (rank + 1) ** 0.9 for rank in range(n)]


class Generator:
    def __init__(self, seed: int, organisations: int, services_per_organisation: int) -> None:
        self.rng = random.Random(seed)
        self.words = VOCABULARY
        self.word_weights = zipf_weights(len(VOCABULARY))
        self.tag_weights = zipf_weights(len(TAGS))
        self.organisations = [
            (f"R{n:04d}", f"{self.rng.choice(['North', 'South', 'East', 'West', 'Central'])} "
             f"{self.rng.choice(['Riverside', 'Hillview', 'Lakeside', 'Oakwood'])} "
             f"{self.rng.choice(['Hospitals NHS Trust', 'Community Health', 'Care Partnership'])}")
            for n in range(organisations)
        ]  # fmt: skip
        self.org_weights = zipf_weights(organisations)
        service_names = [
            "Maternity", "Emergency Department", "District Nursing", "Outpatients",
            "Crisis Team", "Cardiology", "Orthopaedics", "Children's Ward",
        ]  # fmt: skip
        self.services = {
            org: [
                (f"{org}-{k}", service_names[k % len(service_names)])
                for k in range(services_per_organisation)
            ]
            for org, _ in self.organisations
        }
        self.start = datetime(2020, 1, 1, tzinfo=UTC)

    def text(self, words: int) -> str:
        chosen = self.rng.choices(self.words, self.word_weights, k=words)
        sentences, i = [], 0
        while i < len(chosen):
            length = self.rng.randint(6, 20)
            sentences.append(" ".join(chosen[i : i + length]).capitalize() + ".")
            i += length
        return " ".join(sentences)

    def story(self) -> tuple[Any, ...]:
        rng = self.rng
        org_id, org_name = rng.choices(self.organisations, self.org_weights)[0]
        service = rng.choice(self.services[org_id]) if rng.random() < 0.85 else None
        tags = list(dict.fromkeys(rng.choices(TAGS, self.tag_weights, k=rng.randint(0, 4))))
        published = self.start + timedelta(minutes=rng.randint(0, 6 * 365 * 24 * 60))
        responses = rng.choices([0, 1, 2], [0.55, 0.35, 0.10])[0]
        response_text = " ".join(self.text(rng.randint(30, 90)) for _ in range(responses))
        change = rng.random() if responses else 1.0
        tag_groups = json.dumps({"good": tags[:1], "improve": tags[1:2], "feelings": tags[2:]})
        return (
            uuid.UUID(int=rng.getrandbits(128), version=4),
            1,
            self.text(rng.randint(4, 10)).rstrip("."),
            self.text(int(rng.lognormvariate(5.0, 0.6)) + 20),
            org_id,
            org_name,
            service[0] if service else None,
            service[1] if service else None,
            "A patient",
            "patient",
            tag_groups,
            tags,
            rng.choice([None, 0, 1, 1, 2, 2, 3, 4, 5]),
            published,
            responses,
            published + timedelta(hours=rng.expovariate(1 / 48)) if responses else None,
            change < 0.15,
            change < 0.05,
            response_text,
        )


COLUMNS = [
    "story_id", "revision", "title", "body", "organisation_id", "organisation_name",
    "service_id", "service_name", "author_name", "author_relationship", "tag_groups", "tags",
    "criticality", "published_at", "response_count", "first_response_at", "change_planned",
    "change_made", "response_text",
]  # fmt: skip


# Browsing and filters without words (the rollups answer these exactly).
FILTER_ONLY: list[dict[str, Any]] = [
    {},
    {"organisation": True},
    {"service": True},
    {"tags": ("waiting",)},
    {"tags": ("waiting",), "min_criticality": 2, "max_criticality": 4},
    {"min_criticality": 4},
    {"responded": True},
    {"change": "planned"},
    {"organisation": True, "responded": False},
    {"service": True, "min_criticality": 3},
    {"published_from": True, "published_to": True},
    {"responded": False, "published_from": True},
]
# What the public pages and the statistics APIs are asked; {org} and {service} come from a
# sample story, {from}/{to} from its publication date.
PAGES: dict[str, list[str]] = {
    "home page": ["/"],
    "search page": [
        "/search",
        "/search?q=nurse",
        "/search?q=%22pain+relief%22",
        "/search?q=discharge+letter&organisation_id={org}",
        "/search?organisation_id={org}",
        "/search?tag=waiting&min_criticality=2",
        "/search?responded=false",
    ],
    "organisation page": ["/organisations/{org}"],
    "story page (HTML)": ["/stories/{story}"],
    "/v1/stories": ["/v1/stories/{story}"],
    "/v1/stats": [
        "/v1/stats",
        "/v1/stats?organisation_id={org}",
        "/v1/stats?organisation_id={org}&group_by=month",
        "/v1/stats?service_id={service}&group_by=month",
        "/v1/stats?group_by=service",
        "/v1/stats?group_by=tag",
        "/v1/stats?organisation_id={org}&group_by=criticality",
        "/v1/stats?from={from}&to={to}",
        "/v1/stats?from={from}&group_by=month",
    ],
    "/v1/insight": [
        "/v1/insight",
        "/v1/insight?organisation_id={org}",
        "/v1/insight?from={from}&to={to}",
        "/v1/insight?from={from}&source=web",
    ],
}


def query_for(spec: dict[str, Any], sample: tuple[Any, ...]) -> SearchStories:
    """A SearchStories from a mix entry; organisation/service/dates come from a sample story
    (published_from its day, published_to 60 days later)."""
    day = sample[13].date()
    return SearchStories(
        q=spec.get("q"),
        organisation_id=sample[4] if spec.get("organisation") else None,
        service_id=sample[6] if spec.get("service") and sample[6] else None,
        tags=spec.get("tags", ()),
        min_criticality=spec.get("min_criticality"),
        max_criticality=spec.get("max_criticality"),
        responded=spec.get("responded"),
        change=ChangeMarker(spec["change"]) if "change" in spec else None,
        published_from=day if spec.get("published_from") else None,
        published_to=day + timedelta(days=60) if spec.get("published_to") else None,
        sort=Sort(spec["sort"]) if "sort" in spec else None,
        limit=20,
    )


def page_path(template: str, sample: tuple[Any, ...]) -> str:
    day = sample[13].date()
    return template.format(
        org=sample[4],
        service=sample[6] or f"{sample[4]}-0",
        story=sample[0],
        **{"from": day.isoformat(), "to": (day + timedelta(days=90)).isoformat()},
    )


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49] * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "max_ms": round(max(samples) * 1000, 2),
    }


async def timed_runs(
    run: Callable[[int], Awaitable[None]], count: int, concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for n in queue:
            started = time.perf_counter()
            await run(n)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"count": count, **percentiles(latencies), "per_second": round(count / elapsed, 1)}


# ---------------------------------------------------------------- loading


def dsn_of(server: str, name: str) -> str:
    return server.rsplit("/", 1)[0] + f"/{name}"


async def load(conn: asyncpg.Connection, args: argparse.Namespace) -> dict[str, Any]:
    """Generate and COPY the stories (and the same rows into a plain table, the raw
    baseline), fold the count deltas, VACUUM ANALYZE; what it took."""
    await conn.execute(
        "CREATE TABLE bench_raw_stories (LIKE search_stories INCLUDING DEFAULTS);"
        "ALTER TABLE bench_raw_stories ALTER COLUMN document DROP NOT NULL"
    )
    generator = Generator(args.seed, args.organisations, args.services)
    generate_s = raw_s = index_s = 0.0
    done = 0
    started = time.perf_counter()
    while done < args.stories:
        t0 = time.perf_counter()
        rows = [generator.story() for _ in range(min(CHUNK, args.stories - done))]
        t1 = time.perf_counter()
        await conn.copy_records_to_table("bench_raw_stories", records=rows, columns=COLUMNS)
        t2 = time.perf_counter()
        # The trigger computes each weighted tsvector, the statement triggers write the count
        # deltas and the sample; the GIN and b-tree indexes are maintained as rows arrive.
        await conn.copy_records_to_table("search_stories", records=rows, columns=COLUMNS)
        t3 = time.perf_counter()
        generate_s, raw_s, index_s = generate_s + t1 - t0, raw_s + t2 - t1, index_s + t3 - t2
        done += len(rows)
        rate = done / (t3 - started)
        eta = (args.stories - done) / rate if rate else 0.0
        print(
            f"\rloaded {done:,}/{args.stories:,} stories ({rate:,.0f}/s overall, "
            f"index {done / index_s:,.0f}/s), ETA {eta / 60:.1f} min   ",
            end="",
            flush=True,
        )
    print()
    t0 = time.perf_counter()
    folded = await conn.fetchval("SELECT search_compact_counts()")
    compact_s = time.perf_counter() - t0
    await conn.execute("ALTER TABLE bench_raw_stories ADD PRIMARY KEY (story_id)")
    t0 = time.perf_counter()
    await conn.execute("VACUUM ANALYZE")
    vacuum_s = time.perf_counter() - t0
    return {
        "stories": args.stories,
        "seed": args.seed,
        "generate_stories_per_second": round(args.stories / generate_s, 1),
        "index_build": {
            "seconds": round(index_s + compact_s, 2),
            "stories_per_second": round(args.stories / (index_s + compact_s), 1),
            "copy_seconds": round(index_s, 2),
            "count_deltas_folded": folded,
            "fold_seconds": round(compact_s, 2),
        },
        "vacuum_analyze_seconds": round(vacuum_s, 2),
        "baseline_raw_copy": {
            "seconds": round(raw_s, 2),
            "rows_per_second": round(args.stories / raw_s, 1),
        },
    }


async def settle(conn: asyncpg.Connection, *, quiet: float = 75, within: float = 900) -> None:
    """Time a steady index, not the aftermath of loading it: wait until no autovacuum
    worker has run on this database for `quiet` seconds (longer than autovacuum's
    one-minute nap). After a bulk load workers vacuum the big tables for minutes, even after
    our own VACUUM (the insert statistics reach them late); a run that overlapped them
    measured the mix at p95 894 ms instead of 75 ms."""
    deadline = time.monotonic() + within
    quiet_since = time.monotonic()
    announced = False
    while time.monotonic() < deadline:
        busy = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE backend_type = 'autovacuum worker' AND datname = current_database()"
        )
        now = time.monotonic()
        if busy:
            quiet_since = now
        elif now - quiet_since >= quiet:
            return
        if not announced:
            print(f"waiting for autovacuum to be quiet for {quiet:.0f} s ...", flush=True)
            announced = True
        await asyncio.sleep(2)


async def sizes(conn: asyncpg.Connection) -> dict[str, float]:
    mb = 2**20
    row = await conn.fetchrow(
        """
        SELECT pg_database_size(current_database()) AS database,
               pg_total_relation_size('search_stories') AS stories,
               pg_relation_size('search_stories_document_gin') AS document_gin,
               pg_total_relation_size('search_facet_counts') AS facet_counts,
               pg_total_relation_size('search_monthly_counts') AS monthly_counts,
               pg_total_relation_size('search_sample') AS sample,
               pg_total_relation_size('bench_raw_stories') AS raw_table,
               (SELECT count(*) FROM search_facet_counts) AS facet_count_rows,
               (SELECT count(*) FROM search_monthly_counts) AS monthly_count_rows,
               (SELECT count(*) FROM search_sample) AS sample_rows
        """
    )
    assert row is not None
    values = dict(row)
    out = {k: round(v / mb, 1) for k, v in values.items() if not k.endswith("_rows")}
    out["database_without_raw_baseline"] = round(out["database"] - out["raw_table"], 1)
    return {
        **{f"{k}_mb": v for k, v in out.items()},
        **{k: v for k, v in values.items() if k.endswith("_rows")},
    }


async def samples_of(conn: asyncpg.Connection, count: int, seed: int) -> list[tuple[Any, ...]]:
    """Random stories of the index, in the generator's column order (what the mixes need)."""
    rows = await conn.fetch(
        f"SELECT {', '.join(COLUMNS)} FROM bench_raw_stories"  # noqa: S608 - fixed columns
        " TABLESAMPLE SYSTEM (1) REPEATABLE ($1) LIMIT $2",
        seed,
        count,
    )
    return [tuple(r) for r in rows]


# ---------------------------------------------------------------- plans


async def explain_mix(dsn: str, samples: list[tuple[Any, ...]], path: Path) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement search's handler runs for each query of
    the mix, as Markdown."""
    logged: list[tuple[str, tuple[Any, ...]]] = []

    def logger(record: Any) -> None:
        sql = record.query.lstrip()
        if sql.upper().startswith(("SELECT", "WITH")) and "pg_advisory_unlock_all" not in sql:
            logged.append((record.query, tuple(record.args or ())))

    async def init(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(logger)

    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1, init=init)
    explain = await asyncpg.connect(dsn)
    sample = samples[0]
    lines = [
        f"Plans on {datetime.now(UTC):%Y-%m-%d} at commit {git_commit()}: organisation "
        f"`{sample[4]}`, service `{sample[6]}`, published_from {sample[13].date()}.",
        "",
    ]
    try:
        for number, spec in enumerate(QUERIES, 1):
            query = query_for(spec, sample)
            await handlers.search(new_uow(pool), query)  # warm
            logged.clear()
            await handlers.search(new_uow(pool), query)
            lines.append(f"<details><summary>{number}. <code>{json.dumps(spec)}</code></summary>")
            lines.append("")
            for sql, sql_args in list(logged):
                async with explain.transaction(isolation="repeatable_read", readonly=True):
                    plan = await explain.fetch(
                        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, *sql_args
                    )
                text = "\n".join(r[0] for r in plan)
                lines.append("```")
                lines.append(" ".join(sql.split())[:600])
                lines.append(f"-- {list(sql_args)!r}"[:300])
                lines.append("")
                lines.append(text)
                lines.append("```")
            lines.append("</details>")
            lines.append("")
    finally:
        await explain.close()
        await pool.close()
    await asyncio.to_thread(path.write_text, "\n".join(lines) + "\n")
    print(f"plans written to {path}")


# ---------------------------------------------------------------- timing


def new_uow(pool: asyncpg.Pool) -> PostgresSearchUnitOfWork:
    """A unit of work of search on `pool`, as the service's routes get one."""
    return PostgresSearchUnitOfWork(pool, service="search")


def page_app(pool: asyncpg.Pool) -> FastAPI:
    """Search's routes and pages over `pool`, without Kafka (nothing is consumed here)."""
    app = FastAPI()
    install_problem_handlers(app)
    for router in (api_router, insight_router, pages.router):
        app.include_router(router)
    settings = SearchSettings()
    app.state.platform = SimpleNamespace(
        pool=pool,
        settings=settings,
        unit_of_work=UnitOfWorkFactory(pool, PostgresSearchUnitOfWork, "search"),
    )
    app.state.templates = pages.create_templates(settings)
    web_pages.mount_static(app)
    return app


async def time_everything(
    dsn: str, samples: list[tuple[Any, ...]], args: argparse.Namespace
) -> dict[str, Any]:
    pool = await asyncpg.create_pool(dsn, min_size=args.concurrency, max_size=args.concurrency)
    assert pool is not None
    rng = random.Random(args.seed)
    mix = [(QUERIES[n % len(QUERIES)], rng.choice(samples)) for n in range(args.queries)]
    filters = [
        (FILTER_ONLY[n % len(FILTER_ONLY)], rng.choice(samples)) for n in range(args.queries)
    ]
    out: dict[str, Any] = {}
    try:

        async def search(plan: list[tuple[dict[str, Any], tuple[Any, ...]]], n: int) -> None:
            spec, sample = plan[n]
            await handlers.search(new_uow(pool), query_for(spec, sample))

        async def lookup(n: int) -> None:
            async with pool.acquire() as c:
                await c.fetchrow(
                    "SELECT * FROM bench_raw_stories WHERE story_id = $1",
                    samples[n % len(samples)][0],
                )

        async def story(n: int) -> None:
            await handlers.get_story(new_uow(pool), samples[n % len(samples)][0])

        for n in range(len(QUERIES)):  # warm caches and plans
            await search(mix, n)
        print("timing the search mix ...", flush=True)
        out["search_mix"] = await timed_runs(
            lambda n: search(mix, n), args.queries, args.concurrency
        )
        print("timing filter-only searches ...", flush=True)
        out["filter_only"] = await timed_runs(
            lambda n: search(filters, n), args.queries, args.concurrency
        )
        out["story_handler"] = await timed_runs(story, args.queries, args.concurrency)
        out["baseline_primary_key_lookup"] = await timed_runs(
            lookup, args.queries * 5, args.concurrency
        )
        print("timing each query of the mix alone ...", flush=True)
        per_query: dict[str, dict[str, float]] = {}
        for k, spec in enumerate(QUERIES):
            times = []
            for n in [n for n in range(args.queries) if n % len(QUERIES) == k][:20]:
                started = time.perf_counter()
                await search(mix, n)
                times.append(time.perf_counter() - started)
            per_query[json.dumps(spec, default=str)] = {
                "median_ms": round(statistics.median(times) * 1000, 2) if times else 0.0,
                "max_ms": round(max(times) * 1000, 2) if times else 0.0,
            }
        out["search_by_query"] = per_query
        filter_per_query: dict[str, dict[str, float]] = {}
        for k, spec in enumerate(FILTER_ONLY):
            times = []
            for n in [n for n in range(args.queries) if n % len(FILTER_ONLY) == k][:20]:
                started = time.perf_counter()
                await search(filters, n)
                times.append(time.perf_counter() - started)
            filter_per_query[json.dumps(spec, default=str)] = {
                "median_ms": round(statistics.median(times) * 1000, 2) if times else 0.0
            }
        out["filter_only_by_query"] = filter_per_query

        print("timing pages and statistics over HTTP (in process) ...", flush=True)
        app = page_app(pool)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://search"
        ) as client:
            pages_out: dict[str, Any] = {}
            for kind, templates in PAGES.items():
                paths = [
                    page_path(templates[n % len(templates)], rng.choice(samples))
                    for n in range(args.page_requests)
                ]
                for path in paths[: len(templates)]:  # warm
                    await client.get(path)

                async def get(n: int, paths: list[str] = paths) -> None:
                    answer = await client.get(paths[n])
                    if answer.status_code != 200:
                        raise RuntimeError(f"{paths[n]}: {answer.status_code} {answer.text[:200]}")

                pages_out[kind] = await timed_runs(get, len(paths), args.concurrency)
            out["pages"] = pages_out
    finally:
        await pool.close()
    return out


# ---------------------------------------------------------------- the run


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    server = args.server or os.environ.get("CANDOUR_BENCH_DATABASE_URL", DEFAULT_SERVER)
    name = args.database or f"search_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    load_average_start = os.getloadavg()
    dsn = dsn_of(server, name)
    exists = await admin.fetchval(
        "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name
    )
    try:
        if exists:
            conn = await asyncpg.connect(dsn)
            loaded = json.loads(await conn.fetchval("SELECT facts FROM bench_load"))
            if loaded["stories"] != args.stories or loaded["seed"] != args.seed:
                raise SystemExit(
                    f"database {name} holds {loaded['stories']:,} stories of seed "
                    f"{loaded['seed']}, not {args.stories:,} of seed {args.seed}"
                )
            print(f"reusing {name}: {loaded['stories']:,} stories loaded {loaded['when']}")
        else:
            await admin.execute(f'CREATE DATABASE "{name}"')
            await migrate_database(dsn, MIGRATIONS)
            conn = await asyncpg.connect(dsn)
            loaded = {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "commit": git_commit(),
            }
            loaded.update(await load(conn, args))
            await conn.execute("CREATE TABLE bench_load (facts text NOT NULL);")
            await conn.execute("INSERT INTO bench_load VALUES ($1)", json.dumps(loaded))
        await settle(conn)
        size = await sizes(conn)
        samples = await samples_of(conn, 1000, args.seed)
        server_version = await conn.fetchval("SHOW server_version")
        await conn.close()
        if args.explain is not None:
            await explain_mix(dsn, samples, args.explain)
        timings = await time_everything(dsn, samples, args)
    finally:
        if not args.keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    machine = machine_facts()
    machine["postgresql"] = server_version
    machine["load_average_at_end"] = os.getloadavg()
    machine["load_average_at_start"] = load_average_start
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": machine,
        "database": name if args.keep else None,
        "load": loaded,
        "sizes": size,
        "concurrency": args.concurrency,
        **timings,
    }


TARGETS = {
    "search mix p95": ("search_mix", "p95_ms", 100),
    "search mix p99": ("search_mix", "p99_ms", 250),
    "filter-only p95": ("filter_only", "p95_ms", 50),
    "story page p95": ("story_handler", "p95_ms", 10),
}


def report(result: dict[str, Any]) -> tuple[str, str, str]:
    """The result, baseline and notes cells of the row in bench/results.md."""
    s, f, st, b = (
        result["search_mix"],
        result["filter_only"],
        result["story_handler"],
        result["baseline_primary_key_lookup"],
    )
    build, raw = result["load"]["index_build"], result["load"]["baseline_raw_copy"]
    worst_page = max(result["pages"].items(), key=lambda item: item[1]["p95_ms"])
    text = (
        f"search mix p50/p95/p99 {s['p50_ms']}/{s['p95_ms']}/{s['p99_ms']} ms, "
        f"{s['per_second']:,.1f} q/s; filter-only p95 {f['p95_ms']} ms; story p95 "
        f"{st['p95_ms']} ms; pages/stats/insight p95 <= {worst_page[1]['p95_ms']} ms "
        f"({worst_page[0]}); index build {build['stories_per_second']:,.0f} stories/s "
        f"({build['seconds'] / 60:.1f} min), database "
        f"{result['sizes']['database_without_raw_baseline_mb'] / 1024:.2f} GB"
    )
    baseline = (
        f"pk lookup p50/p95/p99 {b['p50_ms']}/{b['p95_ms']}/{b['p99_ms']} ms, "
        f"{b['per_second']:,.0f} q/s; raw COPY {raw['rows_per_second']:,.0f} rows/s"
    )
    m = result["machine"]
    notes = (
        f"{result['load']['stories']:,} stories, 15-query mix with facets, concurrency "
        f"{result['concurrency']}; PostgreSQL {m['postgresql']}; load average "
        f"{m['load_average_at_start'][0]:.1f} -> {m['load_average_at_end'][0]:.1f}"
    )
    return text, baseline, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=600, help="searches in each timed mix")
    parser.add_argument("--page-requests", type=int, default=120, help="requests per kind of page")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--organisations", type=int, default=200)
    parser.add_argument("--services", type=int, default=6, help="per organisation")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server", help="PostgreSQL server URL (any database on it)")
    parser.add_argument("--database", help="database to use: reused if loaded, else loaded")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--explain", type=Path, help="write EXPLAIN (ANALYZE, BUFFERS) of the mix here"
    )
    parser.add_argument("--no-record", action="store_true", help="no row in results.md")
    args = parser.parse_args()
    result = asyncio.run(bench(args))
    path = write_result("search", result)
    print(json.dumps(result, indent=2, default=str))
    for label, (section, key, bound) in TARGETS.items():
        value = result[section][key]
        print(f"{label}: {value} ms (target <= {bound} ms) {'ok' if value <= bound else 'MISSED'}")
    for kind, stats in result["pages"].items():
        print(f"{kind} p95: {stats['p95_ms']} ms (target <= 200 ms)")
    print(f"search mix: {result['search_mix']['per_second']} q/s (target >= 100)")
    if not args.no_record:
        text, baseline, notes = report(result)
        append_row("search", f"{result['machine']['cores']} cpu", text, baseline, notes)
    print(f"written {path}")


if __name__ == "__main__":
    main()
