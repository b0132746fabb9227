"""The unit of work: one transaction, the service's repositories bound to it, its
inbox and its outbox.

Every use case of every service runs in one: an HTTP command and an event alike
open it with `async with uow:`, use its repositories, add the events it announces
(`add_event`, written to the outbox in the same transaction) and leave; the state
change, the outbox rows and the inbox entries commit together or not at all.
Handlers never see a pool or a connection.

A service declares its repositories on a subclass of `AbstractUnitOfWork` (what
its handlers are typed with), implements it on `UnitOfWork` for PostgreSQL by
binding them in `bind`, and its unit tests implement it with fakes.

Entering a unit of work that is already open joins its transaction instead of
starting another. The event consumer uses that to handle a batch of records in
one transaction: it opens the unit of work, records the batch in the inbox, and
calls each record's handler, whose own `async with uow:` then changes nothing.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from asyncpg.transaction import Transaction

from candour_common.db import Connection, lock_story
from candour_common.db.inbox import InboxEntry, record_new
from candour_common.db.outbox import add_event, add_events, add_tombstone, erase_story_events
from candour_common.events import BaseEvent
from candour_common.topics import Topic


class AbstractUnitOfWork(abc.ABC):
    """What every service's handlers see: a transaction that can be joined, the
    outbox (`add_event`), callbacks after the commit, and the inbox (for the
    event consumer). Services declare their repositories on a subclass; the
    PostgreSQL `UnitOfWork` and the fakes of the unit tests implement it."""

    def __init__(self) -> None:
        self._depth = 0
        self._after_commit: list[Callable[[], None]] = []

    async def __aenter__(self) -> Self:
        if self._depth == 0:
            self._after_commit = []
            await self._begin()
        self._depth += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        if exc_type is not None:
            await self._rollback()
            return
        await self._commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this unit of work has committed (never if it rolls back)."""
        self._after_commit.append(callback)

    @abc.abstractmethod
    async def add_event(self, event: BaseEvent) -> uuid.UUID:
        """Announce `event`: written to the outbox now, published after the commit."""

    async def add_events(self, events: Sequence[BaseEvent]) -> list[uuid.UUID]:
        """Announce many events at once (a bulk import), published in the order given."""
        return [await self.add_event(event) for event in events]

    @abc.abstractmethod
    async def add_tombstone(self, topic: Topic, key: str, *, story_id: uuid.UUID) -> uuid.UUID:
        """Outbox: a null value for `key` on compacted `topic`, published after every
        record written before it (it erases them when the broker compacts)."""

    @abc.abstractmethod
    async def erase_story_events(self, story_id: uuid.UUID) -> int:
        """Outbox: delete every row of the story, sent or not (they hold its text)."""

    @abc.abstractmethod
    async def record_new(self, entries: Sequence[InboxEntry]) -> set[uuid.UUID]:
        """Inbox: record `entries`, lock their stories; return the ids not seen before."""

    @abc.abstractmethod
    async def _begin(self) -> None: ...

    @abc.abstractmethod
    async def _commit(self) -> None: ...

    @abc.abstractmethod
    async def _rollback(self) -> None: ...


class UnitOfWork(AbstractUnitOfWork):
    """One transaction on the service's PostgreSQL database; subclasses add repositories."""

    def __init__(self, pool: asyncpg.Pool, *, service: str) -> None:
        super().__init__()
        self._pool = pool
        self.service = service
        self._conn: PoolConnectionProxy | None = None
        self._transaction: Transaction | None = None

    def bind(self, conn: Connection) -> None:
        """Create the repositories on `conn` (called when the transaction opens)."""

    @property
    def connection(self) -> Connection:
        """The open transaction's connection, for the service's own repositories."""
        if self._conn is None:
            raise RuntimeError("the unit of work is not open: use `async with uow:`")
        return self._conn

    async def _begin(self) -> None:
        conn = await self._pool.acquire()
        try:
            transaction = conn.transaction()
            await transaction.start()
        except BaseException:
            await self._pool.release(conn)
            raise
        self._conn, self._transaction = conn, transaction
        self.bind(conn)

    async def _commit(self) -> None:
        await self._end(commit=True)

    async def _rollback(self) -> None:
        await self._end(commit=False)

    async def _end(self, *, commit: bool) -> None:
        conn, transaction = self._conn, self._transaction
        assert conn is not None
        assert transaction is not None
        self._conn = self._transaction = None
        try:
            if commit:
                await transaction.commit()
            else:
                await transaction.rollback()
        finally:
            await self._pool.release(conn)

    async def add_event(self, event: BaseEvent) -> uuid.UUID:
        envelope = await add_event(self.connection, event, service=self.service)
        return envelope.id

    async def add_events(self, events: Sequence[BaseEvent]) -> list[uuid.UUID]:
        # One COPY into the outbox and one wake-up for the relay, however many events.
        envelopes = await add_events(self.connection, events, service=self.service)
        return [envelope.id for envelope in envelopes]

    async def add_tombstone(self, topic: Topic, key: str, *, story_id: uuid.UUID) -> uuid.UUID:
        envelope = await add_tombstone(
            self.connection, topic, key, story_id=story_id, service=self.service
        )
        return envelope.id

    async def erase_story_events(self, story_id: uuid.UUID) -> int:
        return await erase_story_events(self.connection, story_id)

    async def record_new(self, entries: Sequence[InboxEntry]) -> set[uuid.UUID]:
        return await record_new(self.connection, consumer=self.service, entries=entries)

    async def lock_story(self, story_id: uuid.UUID) -> None:
        """Serialise this story's writers until the transaction ends (see `lock_story`)."""
        await lock_story(self.connection, story_id)


U = TypeVar("U", bound=UnitOfWork)


@dataclass(frozen=True, slots=True)
class UnitOfWorkFactory(Generic[U]):
    """Makes a fresh unit of work per use (each HTTP request, each consumer batch)."""

    pool: asyncpg.Pool
    kind: type[U]
    service: str
    options: dict[str, Any] | None = None

    def __call__(self) -> U:
        return self.kind(self.pool, service=self.service, **(self.options or {}))
