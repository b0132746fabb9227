"""Transactional outbox: record events with the state change, publish them after.

`add_event` runs inside the caller's transaction. `OutboxRelay` publishes rows in
commit order with acks=all and stamps them sent. It wakes on NOTIFY (sent by the
insert, delivered on commit) and polls as a fallback, so a lost notification or
a broker outage only delays events. One relay at a time drains a database (a
transaction-level advisory lock), which keeps each story's events in order even
when several copies of a service run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from candour_common import keys
from candour_common.cloudevents import Envelope
from candour_common.db import Connection
from candour_common.events import BaseEvent
from candour_common.logging import current_correlation_id
from candour_common.topics import Topic, TopicNames

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "candour_outbox"
_RELAY_LOCK_KEY = 0x4F5554424F58  # "OUTBOX"


async def add_event(conn: Connection, event: BaseEvent, *, service: str) -> Envelope:
    """Write `event` to the outbox in the caller's transaction; return its envelope."""
    envelope = Envelope.new(event, service=service, correlation_id=current_correlation_id())
    await _insert(
        conn, envelope, event.topic, event.kafka_key(), envelope.headers(), event.model_dump_json()
    )
    return envelope


async def add_events(
    conn: Connection, events: Sequence[BaseEvent], *, service: str
) -> list[Envelope]:
    """Write many events to the outbox in the caller's transaction with one `COPY` (a
    bulk import), then wake the relay once; they are published in the order given."""
    if not events:
        return []
    correlation_id = current_correlation_id()
    envelopes = [Envelope.new(e, service=service, correlation_id=correlation_id) for e in events]
    await conn.copy_records_to_table(
        "outbox",
        columns=("event_id", "topic", "key", "headers", "payload"),
        records=[
            (
                envelope.id,
                event.topic.value,
                event.kafka_key(),
                json.dumps(envelope.headers()),
                event.model_dump_json(),
            )
            for event, envelope in zip(events, envelopes, strict=True)
        ],
    )
    await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
    return envelopes


async def add_tombstone(
    conn: Connection, topic: Topic, key: str, *, story_id: uuid.UUID, service: str
) -> Envelope:
    """Write a tombstone for `key` on `topic` (a record with a null value: on a compacted
    topic it erases every earlier record with that key) in the caller's transaction.

    Published in outbox order like any event, so it always follows the records it erases.
    """
    envelope = Envelope.tombstone(
        topic, story_id, service=service, correlation_id=current_correlation_id()
    )
    await _insert(conn, envelope, topic, key, envelope.headers(with_data=False), None)
    return envelope


async def _insert(
    conn: Connection,
    envelope: Envelope,
    topic: Topic,
    key: str,
    headers: dict[str, str],
    payload: str | None,
) -> None:
    # One round trip: the row and the relay's wake-up call (delivered on commit).
    await conn.execute(
        """
        WITH added AS (
            INSERT INTO outbox (event_id, topic, key, headers, payload)
            VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)
            RETURNING 1
        )
        SELECT pg_notify($6, '') FROM added
        """,
        envelope.id,
        topic.value,
        key,
        json.dumps(headers),
        payload,
        NOTIFY_CHANNEL,
    )


async def erase_story_events(conn: Connection, story_id: uuid.UUID) -> int:
    """Delete every outbox row of the story (its own key, or `<story id>/...`), sent or
    not, in the caller's transaction; return how many went.

    For a withdrawal: those rows hold the story's text (and, for story.submitted, the
    author's contact). An unsent one is never published: the withdrawal's own events
    follow. One the relay is publishing right now still goes out (it was read before
    this transaction), and then the withdrawal's tombstones erase it.
    """
    key = keys.story_key(story_id)
    status = await conn.execute(
        "DELETE FROM outbox WHERE key = $1 OR key LIKE $2",
        key,
        f"{key}{keys.SEPARATOR}%",
    )
    return int(status.split()[-1])


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    topic: str
    key: bytes
    value: bytes | None  # None: a tombstone
    headers: dict[str, str]


# Sends a batch in order and returns once the broker acknowledged every message.
SendBatch = Callable[[Sequence[OutgoingMessage]], Awaitable[None]]


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        send: SendBatch,
        topics: TopicNames,
        *,
        poll_interval: float = 1.0,
        batch_size: int = 500,
        on_published: Callable[[Sequence[OutgoingMessage]], None] | None = None,
        on_retry: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._on_published = on_published
        self._on_retry = on_retry
        self._pool = pool
        self._send = send
        self._topics = topics
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._stopping = False
        self.published = 0

    def wake(self, *_: Any) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Publish until `stop` is called; survives broker and database outages."""
        listener: PoolConnectionProxy | None = None
        backoff = self._poll_interval
        try:
            while not self._stopping:
                try:
                    if listener is None or listener.is_closed():
                        listener = await self._listen()
                    while await self.drain_once() == self._batch_size:
                        pass
                    backoff = self._poll_interval
                except Exception as exc:  # broker or database down: wait, then try again
                    log.warning("outbox relay retrying", error=repr(exc), retry_in=backoff)
                    if self._on_retry is not None:
                        self._on_retry(exc)
                    if listener is not None:
                        await self._unlisten(listener)
                        listener = None
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)
                self._wake.clear()
        finally:
            # Always give the LISTEN connection back, or closing the pool would wait forever.
            if listener is not None:
                await self._unlisten(listener)

    async def stop(self, *, drain: bool = True) -> None:
        """Stop the loop; by default publish what is left first (best effort)."""
        self._stopping = True
        self._wake.set()
        if drain:
            with contextlib.suppress(Exception):
                while await self.drain_once() == self._batch_size:
                    pass

    async def _listen(self) -> PoolConnectionProxy:
        conn = await self._pool.acquire()
        await conn.add_listener(NOTIFY_CHANNEL, self.wake)
        return conn

    async def _unlisten(self, conn: PoolConnectionProxy) -> None:
        with contextlib.suppress(Exception):
            await conn.remove_listener(NOTIFY_CHANNEL, self.wake)
        with contextlib.suppress(Exception):
            await self._pool.release(conn)

    async def drain_once(self) -> int:
        """Publish one batch of unsent rows; return how many were published."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _RELAY_LOCK_KEY):
                return 0
            rows = await conn.fetch(
                """
                SELECT seq, topic, key, headers::text AS headers, payload::text AS payload
                FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT $1
                """,
                self._batch_size,
            )
            if not rows:
                return 0
            messages = [
                OutgoingMessage(
                    topic=self._topics.name(Topic(r["topic"])),
                    key=r["key"].encode(),
                    value=r["payload"].encode() if r["payload"] is not None else None,
                    headers=json.loads(r["headers"]),
                )
                for r in rows
            ]
            await self._send(messages)
            await conn.execute(
                "UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])",
                [r["seq"] for r in rows],
            )
        self.published += len(rows)
        if self._on_published is not None:
            self._on_published(messages)
        log.debug("outbox published", count=len(rows))
        return len(rows)


async def backlog(pool: asyncpg.Pool) -> tuple[int, float | None]:
    """Unsent rows and the age in seconds of the oldest one."""
    row = await pool.fetchrow(
        """
        SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age
        FROM outbox WHERE sent_at IS NULL
        """
    )
    assert row is not None
    return int(row["n"]), (float(row["age"]) if row["age"] is not None else None)
