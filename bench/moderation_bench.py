# ruff: noqa: S603 - a local harness: it starts our own processes
"""Moderation under a backlog: stories/s from story.submitted into its queue.

    .venv/bin/python bench/moderation_bench.py                        # 20,000 stories
    .venv/bin/python bench/moderation_bench.py --stories 5000
    .venv/bin/python bench/moderation_bench.py --screening-workers 2
    .venv/bin/python bench/moderation_bench.py --no-auto-approve      # queue them for moderators
    .venv/bin/python bench/moderation_bench.py --moderation-python ../main-copy/.venv/bin/python
    .venv/bin/python bench/moderation_bench.py --carry-screening      # as intake sends them

1. **Backlog** (not timed into the result): a fresh topic prefix, N story.submitted
   events of the pipeline benchmark's generated stories (200-1,000 words), each with
   its CloudEvents headers and keyed by story id, produced with acks=all before
   moderation starts. With `--carry-screening` each carries the screening story-intake
   would carry (screened here, before producing), so moderation need not screen them;
   without, none does (as `candour import feedback` sends them).
2. **Raw baseline, same run**: a plain aiokafka consumer (no group) reads the same N
   records; then reads them again and inserts each record's value into a plain table
   (id, jsonb): one transaction per record (what one event per transaction costs),
   and one `executemany` per fetched batch (what batching can reach).
3. **Moderation**: `python -m candour_moderation` (from this checkout, or from the
   interpreter given by `--moderation-python`, e.g. main's), on a fresh database, with
   `CANDOUR_AUTO_APPROVE` (default on: the generated stories pass screening, so each
   also writes its story.approved through the outbox, as in the pipeline) and
   `CANDOUR_SCREENING_WORKERS`. Its queue is counted every 0.1 s; the clock starts
   at the first queued story (so start-up, the group join and the screening workers'
   warm-up are left out) and stops when all N are there. stories/s = stories queued
   in that window / its length. CPU seconds in the same window are read with psutil
   for moderation's own process (event loop, consumer, database writes, outbox
   relay) and for its screening workers (its child processes), per story.

Compare runs on different (or busy) machines by the ratios to the baselines. The
database and topics are removed at the end; the JSON goes to `bench/out/`, one row
to `bench/results.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from harness.cli import (
    common_arguments,
    console,
    exit_cleanly_on_sigterm,
    parse_service_env,
    progress,
)
from harness.platform import JWT_SECRET
from harness.processes import stop_process
from harness.record import append_row, machine_facts, machine_text, stamp, write_result
from harness.servers import infrastructure
from harness.stories import StoryFactory, organisations, run_marker

import candour_screening
from candour_common.cloudevents import Envelope
from candour_common.events import (
    AuthorContact,
    OrganisationRef,
    ServiceRef,
    StoryScreening,
    StorySubmitted,
    Tags,
)
from candour_common.kafka_admin import ensure_topics
from candour_common.topics import Topic, TopicNames
from tests.infra import database_url, free_port

PARTITIONS = 3
POLL_S = 0.1


# --------------------------------------------------------------------------- backlog


def submitted_events(
    count: int, organisation_count: int, seed: int, *, carry_screening: bool = False
) -> list[StorySubmitted]:
    orgs = organisations(organisation_count)
    by_id = {o.id: o for o in orgs}
    factory = StoryFactory(orgs, run_marker(), seed=seed)
    now = datetime.now(UTC)
    events = []
    for _ in range(count):
        story = factory.story()
        org = by_id[story["organisation_id"]]
        service = dict(org.services)[story["service_id"]]
        events.append(
            StorySubmitted(
                story_id=uuid.uuid4(),
                submitted_at=now,
                title=story["title"],
                body=story["body"],
                organisation=OrganisationRef(id=org.id, name=org.name),
                service=ServiceRef(id=story["service_id"], name=service),
                author=AuthorContact(**story["author"]),
                tags=Tags(**story["tags"]),
            )
        )
    if carry_screening:
        events = [e.model_copy(update={"screening": _intakes_screening(e)}) for e in events]
    return events


def _intakes_screening(event: StorySubmitted) -> StoryScreening:
    """What story-intake carries on the event (its adapters/screening.py)."""
    fields, author = event.screened_texts(), event.author.display_name
    return StoryScreening(
        screener=candour_screening.screener_version(),
        inputs_sha256=candour_screening.inputs_digest(fields, author),
        **candour_screening.screen(fields, author_name=author).to_json(),
    )


async def produce(bootstrap: str, topic: str, events: list[StorySubmitted]) -> dict[str, float]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        started = time.perf_counter()
        sizes = 0
        pending = []
        for event in events:
            value = event.model_dump_json().encode()
            sizes += len(value)
            headers = Envelope.new(event, service="story-intake").headers()
            pending.append(
                await producer.send(
                    topic,
                    value,
                    key=str(event.story_id).encode(),
                    headers=[(k, v.encode()) for k, v in headers.items()],
                )
            )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
    return {"per_s": len(events) / elapsed, "mean_bytes": sizes / len(events)}


# --------------------------------------------------------------------------- raw baseline


async def _read_all(bootstrap: str, topic: str, expected: int, stall: float) -> Any:
    """Yield the topic's records, a fetched batch at a time, until `expected` were read."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        max_poll_records=500,
    )
    consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    await consumer.start()
    try:
        await consumer.seek_to_beginning()
        seen = 0
        last = time.monotonic()
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            records = [r for rs in batches.values() for r in rs]
            if records:
                last = time.monotonic()
                seen += len(records)
                yield records
            elif time.monotonic() - last > stall:
                raise RuntimeError(f"baseline consumer stalled at {seen} of {expected}")
    finally:
        await consumer.stop()


async def baseline(
    bootstrap: str, topic: str, database: str, expected: int, stall: float
) -> dict[str, Any]:
    started = time.perf_counter()
    consumed = 0
    async for records in _read_all(bootstrap, topic, expected, stall):
        consumed += len(records)
    consume_s = time.perf_counter() - started

    conn = await asyncpg.connect(database)
    try:
        await conn.execute("CREATE TABLE baseline (id uuid PRIMARY KEY, value jsonb NOT NULL)")
        insert = "INSERT INTO baseline (id, value) VALUES ($1, $2::jsonb)"
        started = time.perf_counter()
        async for records in _read_all(bootstrap, topic, expected, stall):
            for r in records:
                await conn.execute(insert, uuid.uuid4(), r.value.decode())  # autocommit
        single_s = time.perf_counter() - started
        await conn.execute("TRUNCATE baseline")
        started = time.perf_counter()
        async for records in _read_all(bootstrap, topic, expected, stall):
            async with conn.transaction():
                await conn.executemany(insert, [(uuid.uuid4(), r.value.decode()) for r in records])
        batched_s = time.perf_counter() - started
    finally:
        await conn.close()
    return {
        "records": consumed,
        "consume_per_s": consumed / consume_s,
        "consume_insert_each_per_s": consumed / single_s,
        "consume_insert_batched_per_s": consumed / batched_s,
    }


# --------------------------------------------------------------------------- moderation


@dataclass
class Moderation:
    """moderation as its own OS process, with CPU read apart for its screening workers."""

    python: str
    env: dict[str, str]
    log_path: Path
    profile_path: Path | None = None
    admin_port: int = field(default_factory=free_port)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [self.python]
        if self.profile_path is not None:
            argv += ["-m", "cProfile", "-o", str(self.profile_path)]
        argv += ["-m", "candour_moderation"]
        self.process = subprocess.Popen(
            argv,
            env={
                **os.environ,
                **self.env,
                "CANDOUR_HTTP_PORT": str(self.port),
                "CANDOUR_ADMIN_PORT": str(self.admin_port),
                "CANDOUR_LOG_JSON": "true",
            },
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far: moderation's own process, and its children (screening)."""
        assert self.process is not None
        try:
            main = psutil.Process(self.process.pid)
            t = main.cpu_times()
            children = 0.0
            for child in main.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    c = child.cpu_times()
                    children += c.user + c.system
        except psutil.NoSuchProcess:
            return {"moderation": 0.0, "screening": 0.0}
        return {"moderation": t.user + t.system, "screening": children}

    def workers(self) -> int:
        assert self.process is not None
        with contextlib.suppress(psutil.Error):
            return len(psutil.Process(self.process.pid).children(recursive=True))
        return 0

    def stop(self, timeout: float = 30) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        return stop_process(self.process, timeout)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def _counts(conn: asyncpg.Connection) -> tuple[int, int, int]:
    """(queued in all, approved automatically, unsent outbox rows); zeros before migrating."""
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM queue_items) AS queued, "
            "(SELECT count(*) FROM queue_items WHERE status = 'approved') AS approved, "
            "(SELECT count(*) FROM outbox WHERE sent_at IS NULL) AS unsent"
        )
    except asyncpg.UndefinedTableError:
        return 0, 0, 0
    assert row is not None
    return int(row["queued"]), int(row["approved"]), int(row["unsent"])


async def measure_moderation(
    moderation: Moderation, database: str, expected: int, stall: float
) -> dict[str, Any]:
    conn = await asyncpg.connect(database)
    bar = progress()
    try:
        moderation.start()
        launched = time.perf_counter()
        with bar:
            task = bar.add_task("queued", total=expected)
            queued = approved = unsent = 0
            started: float | None = None
            at_start = (0, {"moderation": 0.0, "screening": 0.0})
            last_change, last_count = time.perf_counter(), -1
            while queued < expected:
                assert moderation.process is not None
                if moderation.process.poll() is not None:
                    raise RuntimeError(f"moderation exited:\n{moderation.logs()[-3000:]}")
                queued, approved, unsent = await _counts(conn)
                now = time.perf_counter()
                if queued and started is None:
                    started, at_start = now, (queued, moderation.cpu())
                if queued != last_count:
                    last_change, last_count = now, queued
                elif now - last_change > stall:
                    raise RuntimeError(
                        f"no progress for {stall:.0f} s at {queued} of {expected}:\n"
                        f"{moderation.logs()[-3000:]}"
                    )
                bar.update(task, completed=queued)
                if queued < expected:
                    await asyncio.sleep(POLL_S)
            finished = time.perf_counter()
            cpu_done = moderation.cpu()
            # The relay may still be publishing story.approved: wait for it, then
            # read the CPU again (what moderation does per story, publishing included).
            drained = finished
            while unsent and time.perf_counter() - drained < stall:
                await asyncio.sleep(POLL_S)
                queued, approved, unsent = await _counts(conn)
            published = time.perf_counter()
            cpu_published = moderation.cpu()
        workers = moderation.workers()
    finally:
        await conn.close()
    assert started is not None
    first, cpu_start = at_start
    if first >= expected:
        # The whole backlog was queued between two looks (one batch): time it from the
        # launch instead, start-up included.
        first, cpu_start, started = 0, {"moderation": 0.0, "screening": 0.0}, launched
    stories = expected - first
    window = finished - started
    return {
        "start_to_first_queued_s": round(started - launched, 2),
        "first_batch": first,
        "stories_timed": stories,
        "window_s": round(window, 3),
        "per_s": stories / window,
        "approved": approved,
        "outbox_unsent_at_end": unsent,
        "publish_tail_s": round(published - finished, 3),
        "child_processes": workers,
        "cpu_s": {k: round(cpu_done[k] - cpu_start[k], 3) for k in cpu_done},
        "cpu_s_with_publishing": {
            k: round(cpu_published[k] - cpu_start[k], 3) for k in cpu_published
        },
        "cpu_ms_per_story": {
            k: round(1000 * (cpu_published[k] - cpu_start[k]) / stories, 3) for k in cpu_published
        },
    }


# --------------------------------------------------------------------------- run


async def _fresh_database(server: str, name: str) -> str:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_url(server, name)


async def _drop(server: str, names: list[str], bootstrap: str, prefix: str) -> None:
    with contextlib.suppress(Exception):
        conn = await asyncpg.connect(server)
        try:
            for name in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
    with contextlib.suppress(Exception):
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            await admin.delete_topics([t for t in existing if t.startswith(prefix)])
        finally:
            await admin.close()


def _git_commit_of(python: str) -> str:
    """The commit of the checkout whose interpreter runs moderation (for the record)."""
    root = Path(python).absolute().parent.parent.parent
    with contextlib.suppress(Exception):
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()
    return "unknown"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=20_000)
    parser.add_argument("--organisations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--screening-workers", type=int, default=1)
    parser.add_argument(
        "--auto-approve",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="CANDOUR_AUTO_APPROVE for moderation (default on, as in the pipeline)",
    )
    parser.add_argument(
        "--moderation-python",
        default=sys.executable,
        help="interpreter whose candour_moderation runs (another checkout's .venv/bin/python)",
    )
    parser.add_argument(
        "--carry-screening",
        action="store_true",
        help="each story.submitted carries intake's screening (as an HTTP submission's does)",
    )
    parser.add_argument("--label", default="", help="a word for the results row (e.g. main)")
    common_arguments(parser)
    args = parser.parse_args()
    exit_cleanly_on_sigterm()
    extra_env = parse_service_env(args.service_env).get("moderation", {})

    run_id = uuid.uuid4().hex[:10]
    prefix = f"bench{run_id}."
    topics = TopicNames(prefix)
    work_dir = args.out_dir / f"moderation-{stamp()}"
    work_dir.mkdir(parents=True, exist_ok=True)
    names = [f"bench_moderation_{run_id}", f"bench_baseline_{run_id}"]
    async with infrastructure(args) as infra:
        facts = machine_facts(infra)
        try:
            moderation_db = await _fresh_database(infra.postgres_url, names[0])
            baseline_db = await _fresh_database(infra.postgres_url, names[1])
            await ensure_topics(infra.kafka_bootstrap, topics, partitions=PARTITIONS)
            topic = topics.name(Topic.STORY_SUBMITTED)

            console.print(f"generating {args.stories:,} stories")
            events = submitted_events(
                args.stories, args.organisations, args.seed, carry_screening=args.carry_screening
            )
            produced = await produce(infra.kafka_bootstrap, topic, events)
            console.print(
                f"backlog: {args.stories:,} story.submitted produced at "
                f"{produced['per_s']:,.0f}/s, mean {produced['mean_bytes']:,.0f} B"
            )
            del events
            raw = await baseline(
                infra.kafka_bootstrap, topic, baseline_db, args.stories, args.stall_timeout
            )
            console.print(
                f"raw baseline: consume {raw['consume_per_s']:,.0f}/s; consume + insert "
                f"{raw['consume_insert_each_per_s']:,.0f}/s (commit each), "
                f"{raw['consume_insert_batched_per_s']:,.0f}/s (executemany per batch)"
            )
            moderation = Moderation(
                python=args.moderation_python,
                env={
                    "CANDOUR_DATABASE_URL": moderation_db,
                    "CANDOUR_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
                    "CANDOUR_TOPIC_PREFIX": prefix,
                    "CANDOUR_JWT_SECRET": JWT_SECRET,
                    "CANDOUR_LOG_LEVEL": "WARNING",
                    "CANDOUR_AUTO_APPROVE": "true" if args.auto_approve else "false",
                    "CANDOUR_SCREENING_WORKERS": str(args.screening_workers),
                    **extra_env,
                },
                log_path=work_dir / "moderation.log",
                profile_path=work_dir / "moderation.prof" if args.profile else None,
            )
            try:
                result = await measure_moderation(
                    moderation, moderation_db, args.stories, args.stall_timeout
                )
            finally:
                code = moderation.stop()
        finally:
            await _drop(infra.postgres_url, names, infra.kafka_bootstrap, prefix)

    per_story = result["cpu_ms_per_story"]
    ratio_each = result["per_s"] / raw["consume_insert_each_per_s"]
    ratio_batched = result["per_s"] / raw["consume_insert_batched_per_s"]
    commit = _git_commit_of(args.moderation_python)
    console.print(
        f"moderation ({commit}{', ' + args.label if args.label else ''}"
        f"{', carrying intake screening' if args.carry_screening else ''}): "
        f"{result['per_s']:,.0f} stories/s into the queue "
        f"({result['stories_timed']:,} in {result['window_s']:.1f} s; "
        f"{result['approved']:,} approved automatically)\n"
        f"CPU per story: moderation {per_story['moderation']:.2f} ms, screening workers "
        f"{per_story['screening']:.2f} ms (publishing story.approved included)\n"
        f"ratio to consume + insert: {ratio_each:.2f} (commit each), "
        f"{ratio_batched:.3f} (executemany per batch); exit code {code}"
    )
    if args.profile:
        console.print(f"profile: {moderation.profile_path}")
    path = write_result(
        "moderation",
        {
            "benchmark": "moderation backlog",
            "machine": facts,
            "args": vars(args),
            "moderation_commit": commit,
            "backlog": produced,
            "baseline": raw,
            "moderation": result,
            "ratios": {"insert_each": ratio_each, "insert_batched": ratio_batched},
        },
        args.out_dir,
    )
    console.print(f"result: {path}")
    if not args.no_record:
        append_row(
            "moderation backlog",
            machine_text(facts),
            f"{result['per_s']:,.0f} stories/s into the queue ({commit}"
            f"{', ' + args.label if args.label else ''}); CPU/story moderation "
            f"{per_story['moderation']:.2f} ms, screening {per_story['screening']:.2f} ms",
            f"consume {raw['consume_per_s']:,.0f}/s; consume+insert "
            f"{raw['consume_insert_each_per_s']:,.0f}/s commit each, "
            f"{raw['consume_insert_batched_per_s']:,.0f}/s batched; ratio "
            f"{ratio_each:.2f} / {ratio_batched:.3f}",
            f"{args.stories:,} pre-published story.submitted, mean "
            f"{produced['mean_bytes']:,.0f} B; {args.screening_workers} screening worker(s); "
            f"auto-approve {'on' if args.auto_approve else 'off'}; {facts['broker']}; "
            f"PostgreSQL {facts['postgresql']}; {json.dumps(extra_env) if extra_env else ''}"
            f"{path.name}",
        )


if __name__ == "__main__":
    asyncio.run(main())
