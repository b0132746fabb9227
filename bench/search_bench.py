"""Search benchmark: load generated stories into a fresh search database, then time a
fixed mix of searches with facets, next to raw PostgreSQL baselines from the same run.

    .venv/bin/python bench/search_bench.py --stories 100000

See bench/README.md. The database server is CANDOUR_BENCH_DATABASE_URL (any database on
it; a fresh one is created and dropped), default the local test server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from candour_common.runtime import migrate_database
from candour_search.bootstrap import MIGRATIONS
from candour_search.domain import SearchStories, Sort
from candour_search.service_layer import handlers

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


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49] * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
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


def query_for(spec: dict[str, Any], sample: tuple[Any, ...]) -> SearchStories:
    """A SearchStories from a mix entry; organisation/service/date come from a sample story."""
    return SearchStories(
        q=spec.get("q"),
        organisation_id=sample[4] if spec.get("organisation") else None,
        service_id=sample[6] if spec.get("service") and sample[6] else None,
        tags=spec.get("tags", ()),
        min_criticality=spec.get("min_criticality"),
        max_criticality=spec.get("max_criticality"),
        responded=spec.get("responded"),
        published_from=(sample[13].date() if spec.get("published_from") else None),
        sort=Sort(spec["sort"]) if "sort" in spec else None,
        limit=20,
    )


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    server = os.environ.get("CANDOUR_BENCH_DATABASE_URL", DEFAULT_SERVER)
    name = f"search_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = server.rsplit("/", 1)[0] + f"/{name}"
    try:
        await migrate_database(dsn, MIGRATIONS)
        conn = await asyncpg.connect(dsn)
        await conn.execute(
            "CREATE TABLE bench_raw_stories (LIKE search_stories INCLUDING DEFAULTS);"
            "ALTER TABLE bench_raw_stories ALTER COLUMN document DROP NOT NULL"
        )
        generator = Generator(args.seed, args.organisations, args.services)
        generate_s = raw_s = index_s = 0.0
        samples: list[tuple[Any, ...]] = []
        done = 0
        while done < args.stories:
            started = time.perf_counter()
            rows = [generator.story() for _ in range(min(CHUNK, args.stories - done))]
            generate_s += time.perf_counter() - started
            samples.extend(rows[:: max(len(rows) // 50, 1)])
            started = time.perf_counter()
            await conn.copy_records_to_table("bench_raw_stories", records=rows, columns=COLUMNS)
            raw_s += time.perf_counter() - started
            started = time.perf_counter()
            # The trigger computes each weighted tsvector; the GIN and b-tree indexes are
            # maintained as rows arrive, as when the consumers index.
            await conn.copy_records_to_table("search_stories", records=rows, columns=COLUMNS)
            index_s += time.perf_counter() - started
            done += len(rows)
            print(f"\rloaded {done:,}/{args.stories:,}", end="", flush=True)
        print()
        await conn.execute("VACUUM ANALYZE search_stories")
        await conn.execute("VACUUM ANALYZE bench_raw_stories")
        size = await conn.fetchval("SELECT pg_total_relation_size('search_stories')")
        await conn.close()

        pool = await asyncpg.create_pool(dsn, min_size=args.concurrency, max_size=args.concurrency)
        assert pool is not None
        rng = random.Random(args.seed)
        plan = [(QUERIES[n % len(QUERIES)], rng.choice(samples)) for n in range(args.queries)]

        async def search(n: int) -> None:
            spec, sample = plan[n]
            await handlers.search(pool, query_for(spec, sample))

        async def lookup(n: int) -> None:
            async with pool.acquire() as c:
                await c.fetchrow(
                    "SELECT * FROM bench_raw_stories WHERE story_id = $1",
                    samples[n % len(samples)][0],
                )

        # bench_raw_stories has no index: give the lookup baseline its primary key.
        async with pool.acquire() as c:
            await c.execute("ALTER TABLE bench_raw_stories ADD PRIMARY KEY (story_id)")
        for n in range(min(len(QUERIES), args.queries)):  # warm caches and plans
            await search(n)
        searches = await timed_runs(search, args.queries, args.concurrency)
        lookups = await timed_runs(lookup, args.queries * 5, args.concurrency)
        per_query: dict[str, dict[str, float]] = {}
        for k, spec in enumerate(QUERIES):
            runs = [n for n in range(args.queries) if n % len(QUERIES) == k][:20]
            times = []
            for n in runs:
                started = time.perf_counter()
                await search(n)
                times.append(time.perf_counter() - started)
            per_query[json.dumps(spec, default=str)] = {
                "median_ms": round(statistics.median(times) * 1000, 2) if times else 0.0
            }
        server_version = await pool.fetchval("SHOW server_version")
        await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgres": server_version,
        },
        "stories": args.stories,
        "concurrency": args.concurrency,
        "generate_stories_per_second": round(args.stories / generate_s, 1),
        "index_build": {
            "seconds": round(index_s, 2),
            "stories_per_second": round(args.stories / index_s, 1),
            "table_and_indexes_mb": round(size / 2**20, 1),
        },
        "baseline_raw_copy": {
            "seconds": round(raw_s, 2),
            "rows_per_second": round(args.stories / raw_s, 1),
        },
        "search_mix": searches,
        "baseline_primary_key_lookup": lookups,
        "search_by_query": per_query,
    }


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, fixed args
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def report(result: dict[str, Any]) -> str:
    """One row of the shared table in bench/results.md."""
    s, b, i, r = (
        result["search_mix"],
        result["baseline_primary_key_lookup"],
        result["index_build"],
        result["baseline_raw_copy"],
    )
    m = result["machine"]
    return (
        f"| {result['when'][:16].replace('T', ' ')} | search | {commit()} "
        f"| {m['cpus']} cpu, CPython {m['python']}, PostgreSQL {m['postgres']} "
        f"| index build {i['stories_per_second']:,.0f} stories/s; search mix p50/p95/p99 "
        f"{s['p50_ms']}/{s['p95_ms']}/{s['p99_ms']} ms, {s['per_second']:,.1f} q/s "
        f"| raw COPY {r['rows_per_second']:,.0f} rows/s; pk lookup p50/p95/p99 "
        f"{b['p50_ms']}/{b['p95_ms']}/{b['p99_ms']} ms, {b['per_second']:,.0f} q/s "
        f"| {result['stories']:,} stories, {len(QUERIES)}-query mix with facets, "
        f"concurrency {result['concurrency']} |"
    )


RESULTS_HEADER = (
    "# Benchmark results\n\n"
    "| date (UTC) | benchmark | commit | machine | result | raw baseline | notes |\n"
    "|---|---|---|---|---|---|---|\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=600, help="searches in the timed mix")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--organisations", type=int, default=200)
    parser.add_argument("--services", type=int, default=6, help="per organisation")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = asyncio.run(bench(args))
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    path = out / f"search-{result['when'].replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    results = HERE / "results.md"
    if not results.exists():
        results.write_text(RESULTS_HEADER)
    with results.open("a") as f:
        f.write(report(result) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written {path} and a row in {results}")


if __name__ == "__main__":
    main()
