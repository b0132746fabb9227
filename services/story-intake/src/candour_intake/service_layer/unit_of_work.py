"""story-intake's unit of work: one transaction with the directory, the stories, their
responses, the "about you" answers and the Idempotency-Key answers, beside the outbox
and inbox every service has (`candour_common.db.uow`).

Handlers are typed with `IntakeUnitOfWork`; bootstrap wires the PostgreSQL one, the
unit tests an in-memory one (tests/unit/intake/fakes.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from candour_common.db import Connection
from candour_common.db.uow import AbstractUnitOfWork, UnitOfWork
from candour_common.events import RejectionReason, StoryApproved
from candour_intake.adapters.about_you_repository import PostgresAboutYou
from candour_intake.adapters.idempotency import PostgresIdempotencyKeys
from candour_intake.adapters.repository import (
    PostgresDirectory,
    PostgresResponses,
    PostgresStories,
)
from candour_intake.domain import (
    AboutYou,
    InboxPage,
    InboxQuery,
    Organisation,
    PostResponse,
    PublishedStory,
    StaffResponse,
    StoredAnswer,
    Story,
    StoryState,
)
from candour_intake.voices import AnswerCount


class Directory(Protocol):
    async def get(self, organisation_id: str) -> Organisation | None: ...

    async def all(self) -> list[Organisation]:
        """Every organisation with its services, by name."""
        ...

    async def upsert(self, org: Organisation) -> None: ...

    async def name(self, organisation_id: str) -> str:
        """The organisation's name (its id if the directory no longer has it)."""
        ...


class Stories(Protocol):
    async def add(self, story: Story) -> None: ...

    async def add_many(self, stories: Sequence[Story]) -> None:
        """New stories in one statement (a bulk import)."""
        ...

    async def lock_imports(self, source: str) -> None:
        """Take the source's import turn until the transaction ends."""
        ...

    async def imported(self, source: str, external_ids: Sequence[str]) -> dict[str, UUID]:
        """Which of the source's entries are stories already (withdrawn ones included)."""
        ...

    async def state(self, story_id: UUID, *, for_update: bool = False) -> StoryState | None: ...

    async def get(self, story_id: UUID) -> Story | None:
        """The story as its author sent it last, their contact included."""
        ...

    async def save_edit(self, story: Story) -> None:
        """Store the author's next version, submitted again (a rejection is cleared)."""
        ...

    async def record_publication(self, event: StoryApproved) -> None:
        """Published as approved, unless withdrawn or `event` is an older revision."""
        ...

    async def record_publications(self, events: Sequence[StoryApproved]) -> None:
        """`record_publication` of each, in order, in one statement."""
        ...

    async def mark_rejected(
        self, story_id: UUID, rejected_at: datetime, reason: RejectionReason, version: int = 1
    ) -> None:
        """Rejected, unless published or withdrawn, or `version` is older than the story's."""
        ...

    async def mark_withdrawn(self, story_id: UUID, withdrawn_at: datetime) -> None:
        """Blank the text, contact and provenance (and its responses' text)."""
        ...

    async def published(self, story_id: UUID) -> PublishedStory | None: ...

    async def inbox(self, query: InboxQuery) -> InboxPage: ...


class Responses(Protocol):
    async def ids(self, story_id: UUID) -> list[UUID]:
        """Every response the story ever had, deleted ones too."""
        ...

    async def add(self, response_id: UUID, command: PostResponse, posted_at: datetime) -> None: ...

    async def get(
        self, story_id: UUID, response_id: UUID, *, for_update: bool = False
    ) -> StaffResponse | None: ...

    async def standing(self, story_id: UUID) -> list[StaffResponse]:
        """The story's responses not deleted, oldest first."""
        ...

    async def save_version(self, response: StaffResponse, *, deleted: bool) -> None: ...


class AboutYouAnswers(Protocol):
    async def add(self, story_id: UUID, about_you: AboutYou) -> None: ...

    async def add_many(self, answers: Sequence[tuple[UUID, AboutYou]]) -> None: ...

    async def erase(self, story_id: UUID) -> None: ...

    async def programmes(self) -> list[str]: ...

    async def answer_counts(self) -> list[AnswerCount]: ...

    async def lock_publishing(self) -> None:
        """Take the summary-publishing turn until the transaction ends."""
        ...

    async def last_published(self) -> datetime | None: ...

    async def mark_published(self, programmes: list[str], at: datetime) -> None: ...


class IdempotencyKeys(Protocol):
    async def claim(
        self, *, key: str, scope: str, fingerprint: bytes, ttl: timedelta
    ) -> StoredAnswer | None:
        """Claim `key` (blocking a concurrent claim until this one commits); the earlier
        answer if there is one."""
        ...

    async def complete(
        self, *, key: str, scope: str, answer: StoredAnswer, story_id: UUID | None
    ) -> None: ...

    async def replay(self, *, key: str, scope: str) -> StoredAnswer | None: ...

    async def forget_story(self, story_id: UUID) -> int:
        """Blank every stored answer about the story (a withdrawal)."""
        ...


class IntakeUnitOfWork(AbstractUnitOfWork):
    """What story-intake's handlers work with, inside `async with uow:`."""

    directory: Directory
    stories: Stories
    responses: Responses
    about_you: AboutYouAnswers
    idempotency_keys: IdempotencyKeys


class PostgresIntakeUnitOfWork(UnitOfWork, IntakeUnitOfWork):
    """story-intake's unit of work on its PostgreSQL database."""

    def bind(self, conn: Connection) -> None:
        self.directory = PostgresDirectory(conn)
        self.stories = PostgresStories(conn)
        self.responses = PostgresResponses(conn)
        self.about_you = PostgresAboutYou(conn)
        self.idempotency_keys = PostgresIdempotencyKeys(conn)
