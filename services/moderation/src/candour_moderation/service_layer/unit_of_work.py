"""Moderation's unit of work: one transaction with the queue, its audit trail, the
withdrawals, moderators' screening feedback and safeguarding escalations, beside the
outbox and inbox every service has (`candour_common.db.uow`).

Handlers are typed with `ModerationUnitOfWork`; bootstrap wires the PostgreSQL one,
the unit tests an in-memory one (tests/unit/moderation/fakes.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from candour_common.db import Connection
from candour_common.db.uow import AbstractUnitOfWork, UnitOfWork
from candour_moderation.adapters.repository import (
    PostgresAuditLog,
    PostgresEscalations,
    PostgresQueue,
    PostgresScreeningFeedback,
    PostgresWithdrawals,
)
from candour_moderation.domain.escalations import Escalation
from candour_moderation.domain.feedback import ScreeningFeedback
from candour_moderation.domain.model import AuditEntry, QueueItem, QueuePosition, Status


class Queue(Protocol):
    async def get(self, story_id: UUID, *, for_update: bool = False) -> QueueItem | None: ...

    async def existing(self, story_ids: Sequence[UUID]) -> set[UUID]:
        """Which of `story_ids` are in the queue already (in any status)."""
        ...

    async def add_many(self, items: Sequence[QueueItem]) -> None:
        """New items, in one statement."""
        ...

    async def save(self, item: QueueItem) -> None: ...

    async def page(
        self, status: Status, *, limit: int, after: QueuePosition | None = None
    ) -> list[QueueItem]: ...

    async def pending_by_priority(self) -> dict[int, int]:
        """Pending stories counted by priority rank (0 serious, 1 concern, 2 none)."""
        ...


class AuditLog(Protocol):
    async def add(self, entry: AuditEntry) -> None: ...

    async def add_many(self, entries: Sequence[AuditEntry]) -> None:
        """Lines in one statement, kept in the order given."""
        ...

    async def trail(self, story_id: UUID) -> list[AuditEntry]:
        """The story's lines in the order they were written."""
        ...

    async def erase_details(self, story_id: UUID) -> None:
        """Keep who did what and when; drop the words (the author withdrew)."""
        ...


class Withdrawals(Protocol):
    async def record(self, story_id: UUID, withdrawn_at: datetime) -> None: ...

    async def among(self, story_ids: Sequence[UUID]) -> set[UUID]:
        """Which of `story_ids` their authors withdrew."""
        ...


class ScreeningFeedbackLog(Protocol):
    async def add(self, feedback: ScreeningFeedback) -> None: ...

    async def on(self, story_id: UUID) -> list[ScreeningFeedback]: ...

    async def stories(self) -> list[UUID]:
        """Stories (not withdrawn) moderators gave screening feedback on, oldest first."""
        ...

    async def erase(self, story_id: UUID) -> None:
        """Drop the story's feedback (it quotes the author's words)."""
        ...


class Escalations(Protocol):
    async def add(self, escalation: Escalation) -> None: ...

    async def get(self, escalation_id: UUID, *, for_update: bool = False) -> Escalation | None: ...

    async def save(self, escalation: Escalation) -> None:
        """Store what notifications reported back (alerted, acknowledged, re-alerted)."""
        ...

    async def of(self, story_id: UUID) -> list[Escalation]:
        """The story's escalations, oldest first."""
        ...

    async def erase_notes(self, story_id: UUID) -> list[UUID]:
        """Drop the moderators' notes (ids, states and times stay); the escalations' ids."""
        ...


class ModerationUnitOfWork(AbstractUnitOfWork):
    """What moderation's handlers work with, inside `async with uow:`."""

    queue: Queue
    audit: AuditLog
    withdrawals: Withdrawals
    feedback: ScreeningFeedbackLog
    escalations: Escalations


class PostgresModerationUnitOfWork(UnitOfWork, ModerationUnitOfWork):
    """Moderation's unit of work on its PostgreSQL database."""

    def bind(self, conn: Connection) -> None:
        self.queue = PostgresQueue(conn)
        self.audit = PostgresAuditLog(conn)
        self.withdrawals = PostgresWithdrawals(conn)
        self.feedback = PostgresScreeningFeedback(conn)
        self.escalations = PostgresEscalations(conn)
