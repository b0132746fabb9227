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


def _open(conn: PoolConnectionProxy) -> bool:
    """Whether the relay's connection still works (the pool takes a pooled connection
    back by itself when the server closes it, and its proxy then refuses every call)."""
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    topic: str
    key: bytes
    value: bytes | None  # None: a tombstone
    headers: dict[str, str]


# Sends a batch in order and returns once the broker acknowledged every message.
SendBatch = Callable[[Sequence[OutgoingMessage]], Awaitable[None]]


class OutboxRelay:
    """Publishes the outbox on one connection of its own, held while it runs: it
    LISTENs there, holds the relay's turn there (a session advisory lock: one relay at
    a time per database, so each key's events go out in order even with several copies
    of a service), and drains there. A batch costs two statements (read the unsent
    rows, stamp them sent), not a transaction, a lock and a pool round trip each.

    If the connection breaks, PostgreSQL ends its session and with it the turn; the
    relay reconnects and (if no other copy took the turn meanwhile) carries on. A
    batch sent but not yet stamped is sent again then: consumers drop the duplicate
    by event id (their inbox), as after any crash between send and stamp."""

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
        # The relay's own connection (None until needed), whether it holds the turn,
        # and one drain at a time on it (the loop's and `stop`'s).
        self._conn: PoolConnectionProxy | None = None
        self._has_turn = False
        self._draining = asyncio.Lock()
        self.published = 0

    def wake(self, *_: Any) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Publish until `stop` is called; survives broker and database outages."""
        backoff = self._poll_interval
        try:
            while not self._stopping:
                try:
                    while await self.drain_once() == self._batch_size:
                        pass
                    backoff = self._poll_interval
                except Exception as exc:  # broker or database down: wait, then try again
                    log.warning("outbox relay retrying", error=repr(exc), retry_in=backoff)
                    if self._on_retry is not None:
                        self._on_retry(exc)
                    async with self._draining:
                        await self._disconnect()
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)
                self._wake.clear()
        finally:
            # Always give the connection back, or closing the pool would wait forever.
            async with self._draining:
                await self._disconnect()

    async def stop(self, *, drain: bool = True) -> None:
        """Stop the loop; by default publish what is left first (best effort).

        A batch still in flight in the loop (the broker slow or away) is not waited
        for: the caller cancels the loop, which gives the connection back."""
        self._stopping = True
        self._wake.set()
        if self._draining.locked():
            return
        if drain:
            with contextlib.suppress(Exception):
                while await self.drain_once() == self._batch_size:
                    pass
        async with self._draining:
            await self._disconnect()

    async def _connection(self) -> PoolConnectionProxy:
        """The relay's connection, listening for the outbox's wake-up calls."""
        if self._conn is not None and _open(self._conn):
            return self._conn
        await self._disconnect()
        conn = await self._pool.acquire()
        try:
            await conn.add_listener(NOTIFY_CHANNEL, self.wake)
        except BaseException:
            await self._pool.release(conn)
            raise
        self._conn = conn
        return conn

    async def _disconnect(self) -> None:
        """Give the connection back with no LISTEN and no turn (or close it)."""
        conn, had_turn = self._conn, self._has_turn
        self._conn, self._has_turn = None, False
        if conn is None or not _open(conn):
            return  # a closed connection took its LISTEN and turn with it
        try:
            await conn.remove_listener(NOTIFY_CHANNEL, self.wake)
            if had_turn:
                await conn.execute("SELECT pg_advisory_unlock($1)", _RELAY_LOCK_KEY)
        except Exception:
            # Whatever the session still holds ends with it.
            with contextlib.suppress(Exception):
                conn.terminate()
        with contextlib.suppress(Exception):
            await self._pool.release(conn)

    async def drain_once(self) -> int:
        """Publish one batch of unsent rows; return how many were published (0 also
        while another relay has the turn)."""
        async with self._draining:
            conn = await self._connection()
            if not self._has_turn:
                self._has_turn = bool(
                    await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK_KEY)
                )
                if not self._has_turn:
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
