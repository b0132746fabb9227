"""What every service's fake unit of work shares (the services' own fakes add their
repositories): one transaction on an in-memory database whose lock stands in for row
locks, a rollback that restores the state as it was when the transaction began, and the
outbox, its tombstones and the inbox kept in that state."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Sequence
from typing import Any, Generic, TypeVar
from uuid import UUID

from candour_common.db.inbox import InboxEntry
from candour_common.events import BaseEvent
from candour_common.topics import Topic

State = TypeVar("State")


class InMemoryDatabase(Generic[State]):
    """A service's database in memory: its state, and the lock its transactions take."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.lock = asyncio.Lock()


class FakeTransaction(Generic[State]):
    """Mixed in before a service's UnitOfWork class, so these win over its abstract ones.
    The state needs `inbox`, and `outbox` and `tombstones` where the service publishes."""

    def __init__(self, db: InMemoryDatabase[State]) -> None:
        super().__init__()
        self._db = db
        self._snapshot: State | None = None
        self.committed = False

    def _bind(self, state: State) -> None:
        """Offer the service's fake repositories on `state` (each service's own)."""
        raise NotImplementedError

    async def _begin(self) -> None:
        await self._db.lock.acquire()
        self._snapshot = copy.deepcopy(self._db.state)
        self._bind(self._db.state)

    async def _commit(self) -> None:
        self._snapshot = None
        self.committed = True
        self._db.lock.release()

    async def _rollback(self) -> None:
        assert self._snapshot is not None
        self._db.state = self._snapshot
        self._snapshot = None
        self._db.lock.release()

    @property
    def _state(self) -> Any:
        return self._db.state

    async def add_event(self, event: BaseEvent) -> UUID:
        event_id = uuid.uuid4()
        self._state.outbox.append((event_id, event))
        return event_id

    async def add_tombstone(self, topic: Topic, key: str, *, story_id: UUID) -> UUID:
        self._state.tombstones.append((topic, key, story_id))
        return uuid.uuid4()

    async def erase_story_events(self, story_id: UUID) -> int:
        before = len(self._state.outbox)
        self._state.outbox = [(i, e) for i, e in self._state.outbox if e.story() != story_id]
        self._state.tombstones = [t for t in self._state.tombstones if t[2] != story_id]
        return int(before - len(self._state.outbox))

    async def record_new(self, entries: Sequence[InboxEntry]) -> set[UUID]:
        new = {e.event_id for e in entries if e.event_id not in self._state.inbox}
        self._state.inbox |= new
        return new
