"""Rebuild the search index by replaying the public topics, while the live index serves.

How it works, and why nothing is lost:

1. **Build.** Under an advisory lock (one rebuild at a time; leftovers of a crashed rebuild
   are dropped), create schema `search_build_<n>` holding bare clones of the index tables
   (adapters/index_tables.py), inbox included: no keys, indexes or derived-table triggers
   yet, so they load at COPY speed.
2. **Bulk load.** A plain aiokafka consumer under a new consumer group
   (`<prefix>candour-search-rebuild-<n>`) reads story.approved, response.posted and
   story.withdrawn from the beginning up to the end offsets captured at the start, in
   large batches. The events are folded in memory exactly as the live handlers would apply
   them one at a time, in the same order (index_fold.py: inbox, withdrawal markers,
   revision and version checks, tombstones); each story revision still held when its
   batch is written is COPYed to a staging table as it comes (PostgreSQL computes its
   document meanwhile), so story texts are never all in memory. If the live index's
   documents were made by the recipe in force (migration 0036: the document functions,
   text search configurations and server version; recorded by the last rebuild's switch),
   a story the live index holds with the same indexed columns keeps its live document
   instead: computing documents is most of a cold load's cost. At the end the kept
   revisions, responses, versions, withdrawals and inbox are written with COPY, the
   count tables (on a second connection, at the same time) and the sample computed in
   one pass each, the keys, indexes and triggers built and the tables ANALYZEd
   (adapters/bulk_index.py). After the broker has compacted those topics a
   withdrawn story's records are simply absent (or only its tombstones remain), and its
   story.withdrawn event still keeps it out. The live service meanwhile keeps consuming
   into, and answering from, the live tables; the progress callback gets events done,
   events/s and the ETA after each batch.
3. **Catch up.** The topics grew during the load: from here the build has its keys and
   triggers, and a connection whose `search_path` puts its schema first runs the *same*
   handlers as the live consumers (`handlers.apply_event`, `handlers.apply_tombstone`),
   many events per transaction, to fresh end offsets (a few rounds, until little is
   left), still without stopping anyone.
4. **Switch**, in one transaction:
   a. lock the live inbox in EXCLUSIVE mode: the live consumers' writes (each starts by
      inserting into the inbox) wait; readers carry on;
   b. capture the end offsets *now* and replay up to them. Every event the live index
      has applied was published before (a), so it is below these offsets and now in the
      build too; the build's inbox holds the ids of every event it applied;
   c. move the live tables to `search_retired_<n>`, the built ones into their place, drop
      the retired ones; commit.
   The live consumers then continue from their own committed offsets into the new tables
   (PostgreSQL re-resolves their prepared statements after the DDL): what they consume
   again that the replay already applied is skipped by the new inbox, and everything
   newer is applied as usual. Readers see the old index until the commit and the new one
   after it; the swap itself takes only an instant of ACCESS EXCLUSIVE locks.

A message the live consumers would dead-letter (bad envelope or payload) is skipped and
counted. If anything fails before the switch, the build schema is dropped and the live
index is untouched; a rebuild killed outright leaves its schema to the next one, which
drops it first. Either way the live tables serve throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import asyncpg
import structlog
from aiokafka import ConsumerRecord

from candour_common.kafka_connection import KafkaConnection
from candour_common.topics import TopicNames
from candour_search.adapters import bulk_index, index_tables
from candour_search.adapters.event_log import (
    UNREADABLE,
    LoggedEvent,
    LoggedTombstone,
    Offsets,
    TopicReplay,
    UnreadableMessage,
    decode,
)
from candour_search.index_fold import IndexFold
from candour_search.service_layer import handlers

log = structlog.get_logger(__name__)

# Distinct from the migrations' advisory lock key.
REBUILD_LOCK_KEY = 0x53454152434842  # "SEARCHB"
# Records per read; the catch-up applies each read in one transaction.
BATCH_SIZE = 10_000
# Connections COPYing staged stories at once during a bulk load (PostgreSQL computes each
# story's document as it arrives: the load's largest cost, spread over this many cores).
COPY_STREAMS = 2
# Catch-up rounds before the switch stop once fewer events than this were left.
CATCH_UP_ENOUGH = 2_000
CATCH_UP_ROUNDS = 5
SWITCH_LOCK_TIMEOUT_MS = 10_000
SWITCH_ATTEMPTS = 3


class RebuildPhase(StrEnum):
    REPLAYING = "replaying"
    INDEXING = "indexing"
    CATCHING_UP = "catching up"
    SWITCHING = "switching"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class RebuildProgress:
    phase: RebuildPhase
    events_done: int
    # The events up to the end offsets captured at the start (plus any read beyond them).
    events_total: int
    elapsed_seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events_done / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Time left to the end offsets captured at the start, at the rate so far."""
        rate = self.events_per_second
        if rate <= 0:
            return None if self.events_done < self.events_total else 0.0
        return max(self.events_total - self.events_done, 0) / rate


# May be a coroutine function: the rebuild waits for it (a test uses that to act mid-way).
ProgressCallback = Callable[[RebuildProgress], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class RebuildResult:
    build_schema: str
    group_id: str
    events_applied: int
    unreadable: tuple[UnreadableMessage, ...]
    seconds: float
    # Seconds per phase (read and fold, each step of writing the load, catch-up, switch).
    steps: dict[str, float] = field(default_factory=dict)
    # Stories of the bulk load whose live document was reused (migration 0036).
    documents_reused: int = 0


class RebuildInProgress(RuntimeError):
    """Another rebuild holds the lock."""


class _Builder:
    """Applies replayed records to the build and reports progress."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        replay: TopicReplay,
        topics: TopicNames,
        on_progress: ProgressCallback | None,
        batch_size: int,
        schema: str,
    ) -> None:
        self.batch_size = batch_size
        self.conn = conn
        self.replay = replay
        self.topics = topics
        self.on_progress = on_progress
        self.started = time.monotonic()
        self.done = 0
        self.total = 0
        self.unreadable: list[UnreadableMessage] = []
        self.schema = schema
        self.steps: dict[str, float] = {}
        self._marked = self.started
        # Set before the load: whether the live index's documents may be reused.
        self.reuse_documents = False
        # Staged stories whose live document was kept (not computed).
        self.documents_reused = 0

    def mark(self, step: str) -> None:
        """Note the seconds since the last step ended."""
        now = time.monotonic()
        self.steps[step] = round(now - self._marked, 3)
        self._marked = now

    async def report(self, phase: RebuildPhase) -> None:
        if self.on_progress is None:
            return
        outcome = self.on_progress(
            RebuildProgress(
                phase=phase,
                events_done=self.done,
                events_total=max(self.total, self.done),
                elapsed_seconds=time.monotonic() - self.started,
            )
        )
        if inspect.isawaitable(outcome):
            await outcome

    def decode(
        self, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> list[LoggedEvent | LoggedTombstone]:
        events: list[LoggedEvent | LoggedTombstone] = []
        for record in records:
            try:
                events.append(decode(self.topics, record))
            except UNREADABLE as exc:
                # What the live consumers dead-letter; the error names no personal data.
                self.unreadable.append(
                    UnreadableMessage(
                        record.topic, record.partition, record.offset, type(exc).__name__
                    )
                )
                log.warning(
                    "skipped unreadable message",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    error=type(exc).__name__,
                )
        return events

    async def load_to(
        self,
        targets: Offsets,
        copy_streams: Sequence[asyncpg.Connection],
        beside: asyncpg.Connection,
    ) -> None:
        """Bulk-load the bare build with every event up to `targets` (see the module doc).
        Staged stories are COPYed over `copy_streams` (connections to the build) in turn:
        PostgreSQL computes their documents on as many cores while this process decodes.
        At the end `beside` (another connection to the build) derives the count tables
        while this builder's connection writes the stories."""
        fold = IndexFold(consumer=handlers.CONSUMER)
        await bulk_index.create_staging(self.conn, self.schema, reuse=self.reuse_documents)
        copying: list[asyncio.Task[None] | None] = [None] * len(copy_streams)
        turn = 0
        with without_cyclic_collection():
            try:
                async for records in self.replay.batches(targets, max_records=self.batch_size):
                    for logged in self.decode(records):
                        if isinstance(logged, LoggedTombstone):
                            fold.apply_tombstone(logged.topic, logged.key, logged.at)
                        else:
                            fold.apply(logged.event, event_id=logged.event_id)
                    previous = copying[turn]
                    if previous is not None:
                        await previous
                    copying[turn] = asyncio.create_task(
                        bulk_index.copy_staged(copy_streams[turn], self.schema, fold.take_staged())
                    )
                    turn = (turn + 1) % len(copy_streams)
                    self.done += len(records)
                    await self.replay.commit()
                    await self.report(RebuildPhase.REPLAYING)
                for task in copying:
                    if task is not None:
                        await task
            finally:
                for task in copying:
                    if task is not None and not task.done():
                        task.cancel()
                        with contextlib.suppress(BaseException):
                            await task
        if self.reuse_documents:
            self.documents_reused = await bulk_index.staged_reusable(self.conn, self.schema)
        self.mark("read and folded")
        await self.report(RebuildPhase.INDEXING)
        async with self.conn.transaction():
            self.steps.update(await bulk_index.write_fold(self.conn, beside, self.schema, fold))
            self._marked = time.monotonic()
            await bulk_index.forget_themes(self.conn, fold.forgotten)
        self.mark("themes of withdrawn stories forgotten, load committed")

    async def apply(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply records to the completed build with the live handlers, in one transaction."""
        events = self.decode(records)
        async with self.conn.transaction():
            for logged in events:
                if isinstance(logged, LoggedTombstone):
                    await handlers.apply_tombstone(self.conn, logged.topic, logged.key, logged.at)
                else:
                    await handlers.apply_event(self.conn, logged.event, event_id=logged.event_id)
            # The build's count tables got delta rows for every event: fold them as we go.
            await index_tables.compact_counts(self.conn)
        self.done += len(records)

    async def read_to(self, targets: Offsets, phase: RebuildPhase) -> None:
        async for records in self.replay.batches(targets, max_records=self.batch_size):
            await self.apply(records)
            await self.replay.commit()
            await self.report(phase)


@contextlib.contextmanager
def without_cyclic_collection() -> Iterator[None]:
    """No cyclic garbage collection while a bulk load reads. Each batch allocates some
    hundred thousand objects that outlive a first collection (records, events, the fold's
    ids), so automatic collections kept scanning the growing heap: 14.5 s of a 46 s
    rebuild of 100,000 events (and collecting the young generations after each batch still
    cost 4.6 s). Records, events and the fold's rows hold no reference cycles: reference
    counting frees each batch; the few cycles asyncio leaves are collected afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def _lag(replay: TopicReplay, targets: Offsets) -> int:
    positions = await replay.positions()
    return sum(max(end - positions[tp], 0) for tp, end in targets.items())


async def rebuild_index(
    database_url: str,
    kafka: KafkaConnection | str,
    topics: TopicNames,
    *,
    on_progress: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
) -> RebuildResult:
    """Build a fresh index from the public topics and switch reads and writes to it."""
    started = time.monotonic()
    control = await asyncpg.connect(database_url)
    try:
        if not await control.fetchval("SELECT pg_try_advisory_lock($1)", REBUILD_LOCK_KEY):
            raise RebuildInProgress("another search rebuild is running")
        for stale in await index_tables.stale_builds(control):
            log.warning("dropping what an unfinished rebuild left", schema=stale)
            await index_tables.drop_schema(control, stale)
        number = time.time_ns() // 1_000_000
        schema = f"{index_tables.BUILD_SCHEMA_PREFIX}{number}"
        retired = f"{index_tables.RETIRED_SCHEMA_PREFIX}{number}"
        group_id = f"{topics.prefix}candour-search-rebuild-{number}"
        await index_tables.create_bare_build(control, schema)
        try:
            builder = await _build_and_switch(
                control,
                database_url,
                kafka,
                topics,
                schema=schema,
                retired=retired,
                group_id=group_id,
                on_progress=on_progress,
                batch_size=batch_size,
            )
        except BaseException:
            await index_tables.drop_schema(control, schema)
            raise
    finally:
        await control.close()  # also releases the advisory lock
    seconds = time.monotonic() - started
    log.info(
        "search index rebuilt",
        events=builder.done,
        unreadable=len(builder.unreadable),
        documents_reused=builder.documents_reused,
        seconds=round(seconds, 1),
    )
    return RebuildResult(
        build_schema=schema,
        group_id=group_id,
        events_applied=builder.done,
        unreadable=tuple(builder.unreadable),
        seconds=seconds,
        steps=builder.steps,
        documents_reused=builder.documents_reused,
    )


async def _build_and_switch(
    control: asyncpg.Connection,
    database_url: str,
    kafka: KafkaConnection | str,
    topics: TopicNames,
    *,
    schema: str,
    retired: str,
    group_id: str,
    on_progress: ProgressCallback | None,
    batch_size: int,
) -> _Builder:
    build = await index_tables.connect_to_build(database_url, schema)
    replay = TopicReplay(kafka, topics, group_id=group_id)
    try:
        await replay.start()
        builder = _Builder(build, replay, topics, on_progress, batch_size, schema)
        recipe = await bulk_index.current_recipe(control)
        builder.reuse_documents = await bulk_index.documents_reusable(control)
        log.info("rebuild starts", reuse_live_documents=builder.reuse_documents)
        beginning = await replay.beginning_offsets()
        targets = await replay.end_offsets()
        builder.total = sum(end - beginning.get(tp, 0) for tp, end in targets.items())
        await builder.report(RebuildPhase.REPLAYING)
        streams = [
            await index_tables.connect_to_build(database_url, schema)
            for _ in range(max(COPY_STREAMS - 1, 1))
        ]
        try:
            await builder.load_to(targets, [build, *streams][:COPY_STREAMS], beside=streams[0])
        finally:
            for stream in streams:
                await stream.close()

        for _ in range(CATCH_UP_ROUNDS):
            targets = await replay.end_offsets()
            left = await _lag(replay, targets)
            if left == 0:
                break
            builder.total = builder.done + left
            await builder.read_to(targets, RebuildPhase.CATCHING_UP)
            if left < CATCH_UP_ENOUGH:
                break
        builder.mark("caught up")

        await builder.report(RebuildPhase.SWITCHING)
        for attempt in range(1, SWITCH_ATTEMPTS + 1):
            try:
                async with control.transaction():
                    await index_tables.hold_writes(control, lock_timeout_ms=SWITCH_LOCK_TIMEOUT_MS)
                    # No live write can happen now: these offsets cover all the live index has.
                    targets = await replay.end_offsets()
                    builder.total = builder.done + await _lag(replay, targets)
                    await builder.read_to(targets, RebuildPhase.SWITCHING)
                    await index_tables.swap_in(control, schema, retired)
                    # Every document switched in was made (or reused) by the recipe in
                    # force at the start; unknown if a migration changed it meanwhile.
                    still = await bulk_index.current_recipe(control) == recipe
                    await bulk_index.record_recipe(control, recipe if still else None)
                break
            except asyncpg.LockNotAvailableError:
                # A long reader or writer held a table: let it finish, keep the build.
                if attempt == SWITCH_ATTEMPTS:
                    raise
                log.warning("switch waited too long for a lock; trying again", attempt=attempt)
        builder.mark("switched")
        await builder.report(RebuildPhase.DONE)
        return builder
    finally:
        await replay.stop()
        await build.close()
