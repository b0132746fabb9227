"""The unit of work: one transaction, the service's repositories bound to it, its
inbox and its outbox.

Every use case of every service runs in one: an HTTP command and an event alike
open it with `async with uow:`, use its repositories, add the events it announces
(`add_event`, written to the outbox in the same transaction) and leave; the state
change, the outbox rows and the inbox entries commit together or not at all.
Handlers never see a pool or a connection.

A service subclasses `UnitOfWork` and binds its repositories in `bind`; its
bootstrap wires `unit_of_work_factory(pool, TheSubclass, service=...)`.

Entering a unit of work that is already open joins its transaction instead of
starting another. The event consumer uses that to handle a batch of records in
one transaction: it opens the unit of work, records the batch in the inbox, and
calls each record's handler, whose own `async with uow:` then changes nothing.
"""

from __future__ import annotations

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
from candour_common.db.outbox import add_event
from candour_common.events import Event


class UnitOfWork:
    """One transaction on the service's database; subclasses add repositories."""

    def __init__(self, pool: asyncpg.Pool, *, service: str) -> None:
        self._pool = pool
        self.service = service
        self._conn: PoolConnectionProxy | None = None
        self._transaction: Transaction | None = None
        self._depth = 0
        self._after_commit: list[Callable[[], None]] = []
        self.published: list[uuid.UUID] = []

    # -- what subclasses provide ---------------------------------------------------

    def bind(self, conn: Connection) -> None:
        """Create the repositories on `conn` (called when the transaction opens)."""

    # -- the transaction -------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._depth == 0:
            conn = await self._pool.acquire()
            try:
                transaction = conn.transaction()
                await transaction.start()
            except BaseException:
                await self._pool.release(conn)
                raise
            self._conn, self._transaction = conn, transaction
            self._after_commit = []
            self.published = []
            self.bind(conn)
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
        conn, transaction = self._conn, self._transaction
        assert conn is not None
        assert transaction is not None
        self._conn = self._transaction = None
        try:
            if exc_type is None:
                await transaction.commit()
            else:
                await transaction.rollback()
        finally:
            await self._pool.release(conn)
        if exc_type is None:
            callbacks, self._after_commit = self._after_commit, []
            for callback in callbacks:
                callback()

    @property
    def connection(self) -> Connection:
        """The open transaction's connection, for the service's own repositories."""
        if self._conn is None:
            raise RuntimeError("the unit of work is not open: use `async with uow:`")
        return self._conn

    # -- what every service's handlers get -------------------------------------------

    async def add_event(self, event: Event) -> uuid.UUID:
        """Announce `event`: written to the outbox now, published after the commit."""
        envelope = await add_event(self.connection, event, service=self.service)
        self.published.append(envelope.id)
        return envelope.id

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this unit of work has committed (never if it rolls back)."""
        self._after_commit.append(callback)

    async def lock_story(self, story_id: uuid.UUID) -> None:
        """Serialise this story's writers until the transaction ends (see `lock_story`)."""
        await lock_story(self.connection, story_id)

    # -- what the event consumer uses --------------------------------------------------

    async def record_new(self, entries: Sequence[InboxEntry]) -> set[uuid.UUID]:
        """Inbox: record `entries`, lock their stories; return the ids not seen before."""
        return await record_new(self.connection, consumer=self.service, entries=entries)


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
