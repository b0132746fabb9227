"""In-memory stand-ins for moderation's repository, with transaction semantics."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from candour_common.events import Event, StorySubmitted
from candour_moderation.adapters.repository import QueueRepository, Transaction
from candour_moderation.domain.escalations import Escalation
from candour_moderation.domain.feedback import ScreeningFeedback
from candour_moderation.domain.model import AuditEntry, QueueItem, QueuePosition, Status
from candour_screening import Screening, screen


@dataclass
class FakeState:
    items: dict[UUID, QueueItem] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    withdrawals: dict[UUID, datetime] = field(default_factory=dict)
    inbox: set[UUID] = field(default_factory=set)
    outbox: list[tuple[UUID, Event]] = field(default_factory=list)
    tombstones: list[UUID] = field(default_factory=list)  # story.approved keys erased
    feedback: list[ScreeningFeedback] = field(default_factory=list)
    escalations: dict[UUID, Escalation] = field(default_factory=dict)
    # safeguarding.raised keys (`<story>/<escalation>`) tombstoned by a withdrawal
    raised_tombstones: list[str] = field(default_factory=list)


class FakeRepository:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def get(self, story_id: UUID, *, for_update: bool = False) -> QueueItem | None:
        item = self.state.items.get(story_id)
        return copy.deepcopy(item)

    async def add(self, item: QueueItem) -> None:
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

    async def add_audit(self, entry: AuditEntry) -> None:
        self.state.audit.append(entry)

    async def audit_trail(self, story_id: UUID) -> list[AuditEntry]:
        return [a for a in self.state.audit if a.story_id == story_id]

    async def erase_audit_details(self, story_id: UUID) -> None:
        self.state.audit = [
            dataclasses.replace(a, detail=None) if a.story_id == story_id else a
            for a in self.state.audit
        ]

    async def record_withdrawal(self, story_id: UUID, withdrawn_at: datetime) -> None:
        self.state.withdrawals.setdefault(story_id, withdrawn_at)

    async def is_withdrawn(self, story_id: UUID) -> bool:
        return story_id in self.state.withdrawals

    async def record_event_once(self, event_id: UUID, topic: str) -> bool:
        if event_id in self.state.inbox:
            return False
        self.state.inbox.add(event_id)
        return True

    async def add_event(self, event: Event) -> UUID:
        event_id = uuid.uuid4()
        self.state.outbox.append((event_id, event))
        return event_id

    async def erase_events(self, story_id: UUID) -> None:
        self.state.outbox = [(i, e) for i, e in self.state.outbox if e.story_id != story_id]
        self.state.tombstones = [t for t in self.state.tombstones if t != story_id]

    async def erase_published(self, story_id: UUID) -> None:
        self.state.tombstones.append(story_id)

    async def add_feedback(self, feedback: ScreeningFeedback) -> None:
        self.state.feedback.append(feedback)

    async def feedback_on(self, story_id: UUID) -> list[ScreeningFeedback]:
        return [f for f in self.state.feedback if f.story_id == story_id]

    async def stories_with_feedback(self) -> list[UUID]:
        seen: list[UUID] = []
        for f in self.state.feedback:
            item = self.state.items.get(f.story_id)
            if f.story_id not in seen and item is not None and item.status is not Status.WITHDRAWN:
                seen.append(f.story_id)
        return seen

    async def erase_feedback(self, story_id: UUID) -> None:
        self.state.feedback = [f for f in self.state.feedback if f.story_id != story_id]

    async def add_escalation(self, escalation: Escalation) -> None:
        assert escalation.story_id in self.state.items
        self.state.escalations[escalation.escalation_id] = copy.deepcopy(escalation)

    async def get_escalation(
        self, escalation_id: UUID, *, for_update: bool = False
    ) -> Escalation | None:
        return copy.deepcopy(self.state.escalations.get(escalation_id))

    async def save_escalation(self, escalation: Escalation) -> None:
        assert escalation.escalation_id in self.state.escalations
        self.state.escalations[escalation.escalation_id] = copy.deepcopy(escalation)

    async def escalations_of(self, story_id: UUID) -> list[Escalation]:
        found = [e for e in self.state.escalations.values() if e.story_id == story_id]
        return copy.deepcopy(sorted(found, key=lambda e: (e.raised_at, e.escalation_id)))

    async def erase_escalations(self, story_id: UUID) -> None:
        for escalation in self.state.escalations.values():
            if escalation.story_id == story_id:
                escalation.note = None
                self.state.raised_tombstones.append(f"{story_id}/{escalation.escalation_id}")


class FakeDatabase:
    """One lock stands in for row locks; a failed transaction leaves no trace."""

    def __init__(self) -> None:
        self.state = FakeState()
        self._lock = asyncio.Lock()

    @property
    def transaction(self) -> Transaction:
        @asynccontextmanager
        async def transaction() -> AsyncIterator[QueueRepository]:
            async with self._lock:
                snapshot = copy.deepcopy(self.state)
                try:
                    yield FakeRepository(self.state)
                except BaseException:
                    self.state = snapshot
                    raise

        return transaction


async def screen_in_process(fields: Mapping[str, str], author_name: str | None) -> Screening:
    """The service screens in a worker process; unit tests call the library directly."""
    return screen(fields, author_name=author_name)


def queue_item(event: StorySubmitted) -> QueueItem:
    """The queue item of a submission, screened as the service would."""
    fields = QueueItem.texts_to_screen(event)
    return QueueItem.from_submission(event, screen(fields, author_name=event.author.display_name))
