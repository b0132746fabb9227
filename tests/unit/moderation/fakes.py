"""In-memory stand-ins for moderation's unit of work, with transaction semantics."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from candour_common.events import Event, StorySubmitted
from candour_common.topics import Topic
from candour_moderation.domain.escalations import Escalation
from candour_moderation.domain.feedback import ScreeningFeedback
from candour_moderation.domain.model import AuditEntry, QueueItem, QueuePosition, Status
from candour_moderation.service_layer.handlers import ScreeningRequest
from candour_moderation.service_layer.unit_of_work import ModerationUnitOfWork
from candour_screening import Screening, screen
from tests.unit.fake_unit_of_work import FakeTransaction, InMemoryDatabase


@dataclass
class FakeState:
    items: dict[UUID, QueueItem] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    withdrawals: dict[UUID, datetime] = field(default_factory=dict)
    inbox: set[UUID] = field(default_factory=set)
    outbox: list[tuple[UUID, Event]] = field(default_factory=list)
    # Outbox tombstones: (topic, key, story id).
    tombstones: list[tuple[Topic, str, UUID]] = field(default_factory=list)
    feedback: list[ScreeningFeedback] = field(default_factory=list)
    escalations: dict[UUID, Escalation] = field(default_factory=dict)


class FakeQueue:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def get(self, story_id: UUID, *, for_update: bool = False) -> QueueItem | None:
        return copy.deepcopy(self.state.items.get(story_id))

    async def existing(self, story_ids: Sequence[UUID]) -> set[UUID]:
        return {s for s in story_ids if s in self.state.items}

    async def add_many(self, items: Sequence[QueueItem]) -> None:
        for item in items:
            assert item.story_id not in self.state.items
            self.state.items[item.story_id] = copy.deepcopy(item)

    async def save(self, item: QueueItem) -> None:
        assert item.story_id in self.state.items
        self.state.items[item.story_id] = copy.deepcopy(item)

    async def page(
        self, status: Status, *, limit: int, after: QueuePosition | None = None
    ) -> list[QueueItem]:
        chosen = sorted(
            (i for i in self.state.items.values() if i.status is status), key=lambda i: i.position
        )
        if after is not None:
            chosen = [i for i in chosen if i.position > after]
        return copy.deepcopy(chosen[:limit])

    async def pending_by_priority(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for item in self.state.items.values():
            if item.status is Status.PENDING:
                counts[item.priority_rank] = counts.get(item.priority_rank, 0) + 1
        return counts


class FakeAuditLog:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def add(self, entry: AuditEntry) -> None:
        self.state.audit.append(entry)

    async def add_many(self, entries: Sequence[AuditEntry]) -> None:
        self.state.audit.extend(entries)

    async def trail(self, story_id: UUID) -> list[AuditEntry]:
        return [a for a in self.state.audit if a.story_id == story_id]

    async def erase_details(self, story_id: UUID) -> None:
        self.state.audit = [
            dataclasses.replace(a, detail=None) if a.story_id == story_id else a
            for a in self.state.audit
        ]


class FakeWithdrawals:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def record(self, story_id: UUID, withdrawn_at: datetime) -> None:
        self.state.withdrawals.setdefault(story_id, withdrawn_at)

    async def among(self, story_ids: Sequence[UUID]) -> set[UUID]:
        return {s for s in story_ids if s in self.state.withdrawals}


class FakeScreeningFeedback:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def add(self, feedback: ScreeningFeedback) -> None:
        self.state.feedback.append(feedback)

    async def on(self, story_id: UUID) -> list[ScreeningFeedback]:
        return [f for f in self.state.feedback if f.story_id == story_id]

    async def stories(self) -> list[UUID]:
        seen: list[UUID] = []
        for f in self.state.feedback:
            item = self.state.items.get(f.story_id)
            if f.story_id not in seen and item is not None and item.status is not Status.WITHDRAWN:
                seen.append(f.story_id)
        return seen

    async def erase(self, story_id: UUID) -> None:
        self.state.feedback = [f for f in self.state.feedback if f.story_id != story_id]


class FakeEscalations:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def add(self, escalation: Escalation) -> None:
        assert escalation.story_id in self.state.items
        self.state.escalations[escalation.escalation_id] = copy.deepcopy(escalation)

    async def get(self, escalation_id: UUID, *, for_update: bool = False) -> Escalation | None:
        return copy.deepcopy(self.state.escalations.get(escalation_id))

    async def save(self, escalation: Escalation) -> None:
        assert escalation.escalation_id in self.state.escalations
        self.state.escalations[escalation.escalation_id] = copy.deepcopy(escalation)

    async def of(self, story_id: UUID) -> list[Escalation]:
        found = [e for e in self.state.escalations.values() if e.story_id == story_id]
        return copy.deepcopy(sorted(found, key=lambda e: (e.raised_at, e.escalation_id)))

    async def erase_notes(self, story_id: UUID) -> list[UUID]:
        erased = []
        for escalation in self.state.escalations.values():
            if escalation.story_id == story_id:
                escalation.note = None
                erased.append(escalation.escalation_id)
        return sorted(erased)


class FakeModerationUnitOfWork(FakeTransaction[FakeState], ModerationUnitOfWork):
    """One transaction on a `FakeDatabase` (tests/unit/fake_unit_of_work.py)."""

    def _bind(self, state: FakeState) -> None:
        self.queue = FakeQueue(state)
        self.audit = FakeAuditLog(state)
        self.withdrawals = FakeWithdrawals(state)
        self.feedback = FakeScreeningFeedback(state)
        self.escalations = FakeEscalations(state)


class FakeDatabase(InMemoryDatabase[FakeState]):
    """Moderation's database in memory; `uow()` is a fresh unit of work on it."""

    def __init__(self) -> None:
        super().__init__(FakeState())

    def uow(self) -> FakeModerationUnitOfWork:
        return FakeModerationUnitOfWork(self)


async def screen_in_process(stories: Sequence[ScreeningRequest]) -> list[Screening]:
    """The service screens in worker processes; unit tests call the library directly."""
    return [screen(fields, author_name=author_name) for fields, author_name in stories]


def queue_item(event: StorySubmitted) -> QueueItem:
    """The queue item of a submission, screened as the service would."""
    fields = QueueItem.texts_to_screen(event)
    return QueueItem.from_submission(event, screen(fields, author_name=event.author.display_name))
