"""Replay benchmark: `candour search rebuild` over N events, next to raw baselines.

    .venv/bin/python bench/replay_bench.py                   # 1,000,000 events
    .venv/bin/python bench/replay_bench.py --events 100000   # what a shared 2-core machine takes

Creates a fresh topic prefix and a fresh search database (search's migrations), produces
N events to the public topics (untimed for the result, its rate is reported): mostly
story.approved with search_bench's generated stories, plus response.posted and
story.withdrawn of earlier stories, each with its CloudEvents headers and keyed by story
id. Then it runs the rebuild as the CLI does (`rebuild_index` with the CLI's progress
bar), in this process, and checks the index holds every approved story not withdrawn.
Raw baselines from the same run: a plain aiokafka consumer reading the same N messages
from the beginning (msgs/s) and asyncpg COPY of N rows of the events' mean size into a
plain table (rows/s). The database and the topics are removed at the end.

It prints the seconds of each step of the rebuild, the CPU seconds by process (this one,
the database's backends, the broker) and the load average before and after the rebuild
(others sharing the machine change the result). `--profile` runs the rebuild under
cProfile and keeps the profile beside the JSON, with a summary of the top costs.
`--live-index built` runs an untimed rebuild first: the measured one then finds every
story in the live index with its document made by the same recipe, and reuses it (a
rebuild after a change that leaves documents alone); the default measures the first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import math
import os
import pstats
import random
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import baseline
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import DeleteGroupsRequest
from harness.cli import common_arguments, console, exit_cleanly_on_sigterm, progress
from harness.record import append_row, machine_facts, machine_text, stamp, write_result
from harness.servers import Infra, infrastructure
from harness.usage import (
    DatabaseBackendsCpu,
    listening_process,
    own_cpu_seconds,
    process_cpu_seconds,
)
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from search_bench import Generator

from candour_cli.search_rebuild import ProgressBar
from candour_common.cloudevents import Envelope
from candour_common.events import (
    ChangeMarker,
    Event,
    OrganisationRef,
    PublicAuthor,
    Relationship,
    Responder,
    ResponsePosted,
    ServiceRef,
    StoryApproved,
    StoryWithdrawn,
    Tags,
)
from candour_common.kafka_admin import ensure_topics
from candour_common.logging import configure_logging
from candour_common.runtime import migrate_database
from candour_common.topics import Topic, TopicNames
from candour_search.adapters.event_log import REPLAY_FETCH
from candour_search.bootstrap import MIGRATIONS
from candour_search.service_layer.rebuild import (
    BATCH_SIZE,
    RebuildProgress,
    RebuildResult,
    rebuild_index,
)
from tests.infra import database_url

# Who publishes each kind of event in the platform (the envelope's `source`).
PUBLISHER = {
    Topic.STORY_APPROVED: "moderation",
    Topic.RESPONSE_POSTED: "story-intake",
    Topic.STORY_WITHDRAWN: "story-intake",
}
PRODUCE_WINDOW = 20_000  # sends in flight before waiting for the oldest acks
PROFILE_TOP = 30  # functions shown by --profile
COPY_CHUNK = 10_000


# --------------------------------------------------------------------------- events


@dataclass
class Mix:
    approved: int = 0
    responses: int = 0
    withdrawn: int = 0

    @property
    def expected_stories(self) -> int:
        return self.approved - self.withdrawn


class EventSource:
    """Seeded events: approvals of search_bench's stories, then responses to and
    withdrawals of stories approved earlier (each story is withdrawn at most once)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.generator = Generator(args.seed, args.organisations, args.services)
        self.random = random.Random(args.seed + 1)
        self.responses = args.responses
        self.withdrawals = args.withdrawals
        self.published: list[tuple[uuid.UUID, str, str, datetime]] = []
        self.mix = Mix()

    def next(self) -> Event:
        r = self.random
        draw = r.random()
        if self.published and draw < self.withdrawals:
            # Swap a random published story to the end and take it: O(1), never twice.
            i = r.randrange(len(self.published))
            self.published[i], self.published[-1] = self.published[-1], self.published[i]
            story_id, org_id, _, published_at = self.published.pop()
            self.mix.withdrawn += 1
            return StoryWithdrawn(
                story_id=story_id,
                withdrawn_at=published_at + timedelta(days=r.randint(1, 400)),
                organisation_id=org_id,
            )
        if self.published and draw < self.withdrawals + self.responses:
            story_id, org_id, org_name, published_at = r.choice(self.published)
            self.mix.responses += 1
            return ResponsePosted(
                story_id=story_id,
                response_id=uuid.UUID(int=r.getrandbits(128), version=4),
                posted_at=published_at + timedelta(hours=r.expovariate(1 / 48)),
                organisation=OrganisationRef(id=org_id, name=org_name),
                responder=Responder(display_name="Patient experience team", role="Lead"),
                body=self.generator.text(r.randint(30, 90)),
                change=r.choice([None, None, None, ChangeMarker.PLANNED, ChangeMarker.MADE]),
            )
        row = self.generator.story()
        story_id, org_id, org_name, published_at = row[0], row[4], row[5], row[13]
        self.published.append((story_id, org_id, org_name, published_at))
        self.mix.approved += 1
        return StoryApproved(
            story_id=story_id,
            published_at=published_at,
            revision=row[1],
            title=row[2],
            body=row[3],
            organisation=OrganisationRef(id=org_id, name=org_name),
            service=ServiceRef(id=row[6], name=row[7]) if row[6] else None,
            author=PublicAuthor(display_name=row[8], relationship=Relationship(row[9])),
            tags=Tags.model_validate_json(row[10]),
            criticality=row[12],
        )


def message(event: Event) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Key, value and CloudEvents headers, as the outbox relay publishes them."""
    envelope = Envelope.new(event, service=PUBLISHER[event.topic])
    headers = [(k, v.encode()) for k, v in envelope.headers().items()]
    return str(event.story_id).encode(), event.model_dump_json().encode(), headers


async def produce(
    bootstrap: str, topics: TopicNames, source: EventSource, count: int, bars: Progress
) -> dict[str, float]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    task = bars.add_task("producing", total=count)
    in_flight: deque[asyncio.Future[Any]] = deque()
    total_bytes = 0
    generate_s = 0.0
    started = time.perf_counter()
    try:
        for n in range(count):
            generating = time.perf_counter()
            event = source.next()
            key, value, headers = message(event)
            generate_s += time.perf_counter() - generating
            total_bytes += len(value)
            in_flight.append(
                await producer.send(topics.name(event.topic), value, key=key, headers=headers)
            )
            if len(in_flight) >= PRODUCE_WINDOW:
                await asyncio.gather(*(in_flight.popleft() for _ in range(PRODUCE_WINDOW // 2)))
                bars.update(task, completed=n + 1 - len(in_flight))
        await asyncio.gather(*in_flight)
        bars.update(task, completed=count)
    finally:
        await producer.stop()
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "events_per_s": count / seconds,
        "generate_and_serialise_s": round(generate_s, 3),
        "mean_event_bytes": total_bytes / count,
        "total_mb": round(total_bytes / 2**20, 1),
    }


# --------------------------------------------------------------------------- baselines


async def consume_all(
    bootstrap: str, topics: TopicNames, count: int, bars: Progress, stall_timeout: float
) -> dict[str, float]:
    """A plain consumer reads every message of the three topics from the beginning."""
    partitions = [
        TopicPartition(topics.name(topic), p)
        for topic in PUBLISHER
        for p in range(baseline.PARTITIONS)
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **REPLAY_FETCH,  # the rebuild's fetch sizes and batch size: the ratio isolates
    )  # what the rebuild adds to reading
    await consumer.start()
    task = bars.add_task("raw consume", total=count)
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        started = last_progress = time.perf_counter()
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=BATCH_SIZE)
            got = sum(len(records) for records in batches.values())
            now = time.perf_counter()
            if got:
                seen, last_progress = seen + got, now
                bars.update(task, completed=seen)
            elif now - last_progress > stall_timeout:
                raise TimeoutError(f"raw consumer stalled at {seen:,} of {count:,} messages")
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    return {"messages": seen, "seconds": round(seconds, 3), "messages_per_s": seen / seconds}


async def copy_rows(dsn: str, count: int, size: int, bars: Progress) -> dict[str, float]:
    """COPY `count` rows of `size` bytes into a plain table (no index, no trigger)."""
    conn = await asyncpg.connect(dsn)
    task = bars.add_task("raw COPY", total=count)
    try:
        await conn.execute("CREATE TABLE bench_raw_events (id uuid NOT NULL, body text NOT NULL)")
        body = os.urandom(size // 2 + 1).hex()[:size]
        seconds = 0.0
        done = 0
        while done < count:
            rows = [(uuid.uuid4(), body) for _ in range(min(COPY_CHUNK, count - done))]
            started = time.perf_counter()
            await conn.copy_records_to_table("bench_raw_events", records=rows)
            seconds += time.perf_counter() - started
            done += len(rows)
            bars.update(task, completed=done)
        await conn.execute("DROP TABLE bench_raw_events")
    finally:
        await conn.close()
    return {
        "rows": count,
        "size_bytes": size,
        "seconds": round(seconds, 3),
        "rows_per_s": count / seconds,
    }


# --------------------------------------------------------------------------- rebuild


class Watch:
    """Forwards each report to the CLI's progress bar; notes phases and the last progress."""

    def __init__(self, bar: ProgressBar) -> None:
        self.bar = bar
        self.last: RebuildProgress | None = None
        self.last_progress_at = time.monotonic()
        # phase -> (seconds since start, events done) at its first report
        self.phases: dict[str, tuple[float, int]] = {}

    def __call__(self, report: RebuildProgress) -> None:
        self.bar(report)
        if self.last is None or (report.phase, report.events_done) != (
            self.last.phase,
            self.last.events_done,
        ):
            self.last_progress_at = time.monotonic()
        self.phases.setdefault(
            report.phase.value, (round(report.elapsed_seconds, 3), report.events_done)
        )
        self.last = report


async def rebuild(
    dsn: str,
    bootstrap: str,
    topics: TopicNames,
    stall_timeout: float,
    cpu: dict[str, float],
    profile_to: Path | None = None,
) -> tuple[RebuildResult, Watch, float]:
    """Run the rebuild as the CLI does; `cpu` gets the CPU seconds it took by process:
    this one (the CLI's), the database's backends and, if it runs here, the broker (which
    serves other clients too: an upper bound). With `profile_to`, the rebuild runs under
    cProfile (this process only: PostgreSQL's share is in the steps) and the profile is
    written there, with a summary beside it."""
    broker = listening_process(int(bootstrap.rsplit(":", 1)[1]))
    own_before, broker_before = own_cpu_seconds(), process_cpu_seconds(broker)
    profiler = cProfile.Profile() if profile_to else None
    async with DatabaseBackendsCpu(dsn, dsn.rsplit("/", 1)[1]) as backends:
        if profiler is not None:
            profiler.enable()
        try:
            outcome = await _rebuild(dsn, bootstrap, topics, stall_timeout)
        finally:
            if profiler is not None:
                profiler.disable()
    cpu["rebuild process (Python)"] = own_cpu_seconds() - own_before
    if profiler is not None and profile_to is not None:
        profiler.dump_stats(str(profile_to))
        buffer = io.StringIO()
        stats = pstats.Stats(str(profile_to), stream=buffer)
        stats.sort_stats("tottime").print_stats(PROFILE_TOP)
        buffer.write("\n-- by cumulative time --\n")
        stats.sort_stats("cumulative").print_stats(PROFILE_TOP)
        profile_to.with_suffix(".txt").write_text(buffer.getvalue())
    cpu["PostgreSQL backends of the database"] = backends.total
    broker_used = process_cpu_seconds(broker) - broker_before
    if not math.isnan(broker_used):
        cpu["Kafka broker (all its clients)"] = broker_used
    return outcome


async def _rebuild(
    dsn: str, bootstrap: str, topics: TopicNames, stall_timeout: float
) -> tuple[RebuildResult, Watch, float]:
    with Progress(
        TextColumn("[bold]{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} events/s"),
        TextColumn("ETA {task.fields[eta]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bars:
        watch = Watch(ProgressBar(bars))
        started = time.perf_counter()
        running = asyncio.create_task(rebuild_index(dsn, bootstrap, topics, on_progress=watch))
        while not running.done():
            await asyncio.wait({running}, timeout=1.0)
            if not running.done() and time.monotonic() - watch.last_progress_at > stall_timeout:
                running.cancel()  # the rebuild drops its build schema
                with contextlib.suppress(asyncio.CancelledError):
                    await running
                raise TimeoutError(f"the rebuild made no progress for {stall_timeout:.0f} s")
        result = await running
        return result, watch, time.perf_counter() - started


# --------------------------------------------------------------------------- setup


async def create_database(server_url: str, name: str) -> str:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = database_url(server_url, name)
    await migrate_database(dsn, MIGRATIONS)
    return dsn


async def clean_up(infra: Infra, database: str, prefix: str, groups: list[str]) -> None:
    with contextlib.suppress(Exception):
        conn = await asyncpg.connect(infra.postgres_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await conn.close()
    with contextlib.suppress(Exception):
        admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            await admin.delete_topics([t for t in existing if t.startswith(prefix)])
            # The rebuild's consumer group (offsets only); aiokafka's admin has no call for it.
            for group in groups:
                coordinator = await admin.find_coordinator(group)
                await admin._send_request(DeleteGroupsRequest([group]), coordinator)
        finally:
            await admin.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:10]
    topics = TopicNames(f"benchreplay{run_id}.")
    database = f"bench_replay_{run_id}"
    async with infrastructure(args) as infra:
        facts = machine_facts(infra)
        groups: list[str] = []
        try:
            dsn = await create_database(infra.postgres_url, database)
            await ensure_topics(
                infra.kafka_bootstrap, topics, partitions=baseline.PARTITIONS, with_dlq=False
            )
            source = EventSource(args)
            with progress() as bars:
                produced = await produce(infra.kafka_bootstrap, topics, source, args.events, bars)
            mix = source.mix
            source.published.clear()  # up to a million ids: not needed any more
            console.print(
                f"produced {args.events:,} events ({mix.approved:,} approved, "
                f"{mix.responses:,} responses, {mix.withdrawn:,} withdrawn; mean "
                f"{produced['mean_event_bytes']:,.0f} B) at {produced['events_per_s']:,.0f}/s "
                f"(generation included; not part of the result)"
            )
            with progress() as bars:
                kafka = await consume_all(
                    infra.kafka_bootstrap, topics, args.events, bars, args.stall_timeout
                )
                postgres = await copy_rows(
                    dsn, args.events, round(produced["mean_event_bytes"]), bars
                )
            cpu: dict[str, float] = {}
            profile_to = None
            if args.profile:
                profile_to = Path(args.out_dir) / f"replay-{stamp()}.prof"
                profile_to.parent.mkdir(parents=True, exist_ok=True)
            if args.live_index == "built":
                console.print("building the live index first (untimed)")
                first = await rebuild_index(dsn, infra.kafka_bootstrap, topics)
                groups.append(first.group_id)
            # Others share the machine: its load says how far the result is the code's.
            load_before = os.getloadavg()
            result, watch, wall_s = await rebuild(
                dsn, infra.kafka_bootstrap, topics, args.stall_timeout, cpu, profile_to
            )
            load_after = os.getloadavg()
            groups.append(result.group_id)
            conn = await asyncpg.connect(dsn)
            try:
                stories = int(await conn.fetchval("SELECT count(*) FROM search_stories"))
                responses = int(await conn.fetchval("SELECT count(*) FROM search_responses"))
                withdrawn = int(await conn.fetchval("SELECT count(*) FROM search_withdrawn"))
                size = int(
                    await conn.fetchval(
                        "SELECT pg_total_relation_size('search_stories')"
                        " + pg_total_relation_size('search_responses')"
                    )
                )
            finally:
                await conn.close()
        finally:
            await clean_up(infra, database, topics.prefix, groups)
    events_per_s = result.events_applied / result.seconds
    # The replay phase alone: from its first report to the next phase's first (catching
    # up, or switching, which is reported after ANALYZE: that is included).
    phases = list(watch.phases.values())  # in the order they started
    replay_phase_s = phases[1][0] - phases[0][0] if len(phases) > 1 else 0.0
    replay_phase_events = phases[1][1] - phases[0][1] if len(phases) > 1 else 0
    complete = (
        stories == mix.expected_stories
        and result.events_applied == args.events
        and not result.unreadable
    )
    return {
        "benchmark": "replay",
        "machine": facts,
        "args": vars(args),
        "events": {**asdict(mix), "total": args.events, "expected_stories": mix.expected_stories},
        "produce": produced,
        "rebuild": {
            "events_applied": result.events_applied,
            "unreadable": len(result.unreadable),
            "seconds": round(result.seconds, 3),
            "wall_seconds": round(wall_s, 3),
            "events_per_s": events_per_s,
            "replay_phase_seconds": round(replay_phase_s, 3),
            "replay_phase_events_per_s": replay_phase_events / replay_phase_s
            if replay_phase_s > 0
            else None,
            "phases_started": watch.phases,
            "steps_s": result.steps,
            "group_id": result.group_id,
            "live_index": args.live_index,
            "documents_reused": result.documents_reused,
        },
        "cpu_s": {name: round(seconds, 2) for name, seconds in cpu.items()},
        "load_average": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in load_after],
        },
        "profile": str(profile_to) if profile_to else None,
        "cpu_us_per_event": {
            name: round(seconds / args.events * 1e6, 1) for name, seconds in cpu.items()
        },
        "index": {
            "stories": stories,
            "expected_stories": mix.expected_stories,
            "responses": responses,
            "withdrawn": withdrawn,
            "tables_mb": round(size / 2**20, 1),
        },
        "baseline": {"kafka_consume": kafka, "postgres_copy": postgres},
        "ratio": {
            "to_kafka_consume": events_per_s / kafka["messages_per_s"],
            "to_postgres_copy": events_per_s / postgres["rows_per_s"],
        },
        "run": {"complete": complete},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events produced and replayed"
    )
    parser.add_argument(
        "--responses", type=float, default=0.10, help="share of events that are response.posted"
    )
    parser.add_argument(
        "--withdrawals", type=float, default=0.01, help="share of events that are story.withdrawn"
    )
    parser.add_argument("--organisations", type=int, default=200)
    parser.add_argument("--services", type=int, default=6, help="per organisation")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--live-index",
        choices=("empty", "built"),
        default="empty",
        help="empty: the first rebuild, every document computed; built: an untimed rebuild "
        "first, so the measured one finds every story in the live index with documents "
        "made by the same recipe (a rebuild after a change that leaves documents alone)",
    )
    common_arguments(parser)
    args = parser.parse_args()
    if args.service_env:
        parser.error("--service-env does not apply: the rebuild runs in this process")
    if args.events < 1 or args.responses + args.withdrawals >= 1:
        parser.error("need --events >= 1 and --responses + --withdrawals < 1")
    exit_cleanly_on_sigterm()
    configure_logging("replay-bench", level="WARNING", json=False)  # as the CLI does
    outcome = asyncio.run(run(args))
    r, index, facts, mix = (
        outcome["rebuild"],
        outcome["index"],
        outcome["machine"],
        outcome["events"],
    )
    k, p = outcome["baseline"]["kafka_consume"], outcome["baseline"]["postgres_copy"]
    to_consume, to_copy = outcome["ratio"]["to_kafka_consume"], outcome["ratio"]["to_postgres_copy"]
    complete = outcome["run"]["complete"]
    rate = f"{r['events_per_s']:,.0f} events/s"
    indexed = f"index {index['stories']:,} stories (expected {index['expected_stories']:,})"
    raw = f"Kafka consume {k['messages_per_s']:,.0f} msg/s, PG COPY {p['rows_per_s']:,.0f} rows/s"
    console.print(
        f"[bold]rebuild: {rate}[/] ({r['events_applied']:,} events in {r['seconds']:,.1f} s; "
        f"replay phase {r['replay_phase_events_per_s'] or 0:,.0f}/s); {indexed}, "
        f"{r['unreadable']} unreadable"
    )
    console.print(
        f"raw baseline: {raw} of {p['size_bytes']:,} B; "
        f"rebuild = {to_consume:.3f} of the consume, {to_copy:.3f} of the COPY"
    )
    live = f"live index {r['live_index']}; {r['documents_reused']:,} live documents reused"
    console.print(live)
    console.print("steps (s): " + ", ".join(f"{k} {v:,.1f}" for k, v in r["steps_s"].items()))
    cpu_text = "; ".join(
        f"{name} {seconds:,.1f} s ({outcome['cpu_us_per_event'][name]:,.0f} µs/event)"
        for name, seconds in outcome["cpu_s"].items()
    )
    console.print(f"CPU: {cpu_text}")
    load = outcome["load_average"]
    console.print(
        f"load average (1 min) {load['before'][0]:.1f} before the rebuild, "
        f"{load['after'][0]:.1f} after"
    )
    if outcome["profile"]:
        console.print(
            f"profile of this process (the rebuild): {outcome['profile']} "
            f"(top costs in {Path(outcome['profile']).with_suffix('.txt')})"
        )
    path = write_result("replay", outcome, args.out_dir)
    console.print(f"result: {path}")
    if not args.no_record:
        append_row(
            "replay (search rebuild)",
            machine_text(facts),
            f"{rate} ({r['events_applied']:,} in {r['seconds']:,.1f} s); {indexed}",
            f"{raw}; ratio {to_consume:.3f} / {to_copy:.3f}",
            f"{live}; CPU {cpu_text}; load average {outcome['load_average']['before'][0]:.1f} -> "
            f"{outcome['load_average']['after'][0]:.1f}; "
            f"{mix['approved']:,} approved, {mix['responses']:,} responses, "
            f"{mix['withdrawn']:,} withdrawn, mean {p['size_bytes']:,} B; produced at "
            f"{outcome['produce']['events_per_s']:,.0f}/s; {facts['broker']}; "
            f"PostgreSQL {facts['postgresql']}; {'complete' if complete else 'INCOMPLETE'}; "
            f"{path.name}",
        )
    if not complete:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
