"""The outbox relay on real PostgreSQL: one relay at a time per database (its turn held
on its own connection), woken by NOTIFY, every row sent once in outbox order, a relay
whose connection dies hands over to the next, and a stopped relay leaves no LISTEN and
no lock behind on the pool's connections. The broker is a fake `SendBatch` (a list):
what is under test is the database side."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence

import asyncpg
import pytest

from candour_common.db.outbox import OutboxRelay, OutgoingMessage, SendBatch
from candour_common.db.pool import create_pool
from candour_common.db.uow import UnitOfWork
from candour_common.runtime import migrate_database
from candour_common.topics import TopicNames
from tests.integration.common.test_outbox_batch import listed

pytestmark = pytest.mark.integration

# A poll far longer than the test: anything sent promptly was woken by NOTIFY.
NO_POLL = 60.0


class Sent:
    """A SendBatch that keeps what it was given, by relay."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[str]]] = []
        self.changed = asyncio.Event()

    def to(self, relay: str) -> SendBatch:
        async def send(messages: Sequence[OutgoingMessage]) -> None:
            self.batches.append((relay, [json.loads(m.value or b"null")["name"] for m in messages]))
            self.changed.set()

        return send

    def names(self) -> list[str]:
        return [name for _, names in self.batches for name in names]

    def relays(self) -> set[str]:
        return {relay for relay, _ in self.batches}

    async def until(self, count: int) -> None:
        async def enough() -> None:
            while len(self.names()) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(enough(), 10)


async def _all_marked_sent(pool: asyncpg.Pool) -> None:
    """The relay marks a batch sent after the broker took it (a statement after `send`
    returns): wait for that rather than racing it."""

    async def marked() -> None:
        while await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"):
            await asyncio.sleep(0.02)

    await asyncio.wait_for(marked(), 5)


async def _announce(pool: asyncpg.Pool, names: Sequence[str]) -> None:
    events = [e.model_copy(update={"name": name}) for e, name in zip(listed(len(names)), names)]
    for event in events:  # one transaction each, as submissions are
        async with UnitOfWork(pool, service="story-intake") as uow:
            await uow.add_event(event)


async def test_one_relay_at_a_time_every_row_once_in_order_and_a_dead_relay_hands_over(
    create_database,
) -> None:
    url = await create_database("outbox_relay")
    await migrate_database(url, "candour_intake.migrations")
    pool = await create_pool(url, max_size=6)
    sent = Sent()
    topics = TopicNames()
    first = OutboxRelay(pool, sent.to("first"), topics, poll_interval=NO_POLL)
    second = OutboxRelay(pool, sent.to("second"), topics, poll_interval=NO_POLL)
    running = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    try:
        await asyncio.sleep(0.5)  # both listening; one of them holds the turn
        await _announce(pool, [f"a{i}" for i in range(20)])
        await sent.until(20)
        assert sent.names() == [f"a{i}" for i in range(20)]
        assert len(sent.relays()) == 1, sent.batches
        holder, other = (first, second) if sent.relays() == {"first"} else (second, first)
        await _all_marked_sent(pool)

        # The holder's session ends under it (a network cut, a restarted backend): its
        # turn goes with it and the other relay, woken by the next story, carries on.
        assert holder._conn is not None
        await pool.execute("SELECT pg_terminate_backend($1)", holder._conn.get_server_pid())
        await asyncio.sleep(0.2)
        await _announce(pool, [f"b{i}" for i in range(5)])
        await sent.until(25)
        await _all_marked_sent(pool)
        await asyncio.sleep(0.3)  # anything sent twice would show by now
        assert sent.names() == [f"a{i}" for i in range(20)] + [f"b{i}" for i in range(5)]
        assert sent.batches[-1][0] != sent.batches[0][0]
        assert other.published + holder.published == 25
    finally:
        await first.stop()
        await second.stop()
        for task in running:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # Stopped relays leave the pool's connections as they found them.
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND d.datname = current_database()"
        )
        == 0
    )
    await asyncio.wait_for(pool.close(), 5)
