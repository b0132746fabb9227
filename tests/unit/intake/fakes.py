"""In-memory stand-ins for story-intake's unit of work, with transaction semantics."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from candour_common.events import BaseEvent, RejectionReason, StoryApproved
from candour_common.topics import Topic
from candour_intake.domain import (
    AboutYou,
    InboxPage,
    InboxQuery,
    KeyReusedWithDifferentRequest,
    Organisation,
    PostResponse,
    PublishedStory,
    StaffResponse,
    StoredAnswer,
    Story,
    StoryState,
    StoryStatus,
)
from candour_intake.service_layer.unit_of_work import IntakeUnitOfWork
from candour_intake.voices import AnswerCount
from tests.unit.fake_unit_of_work import FakeTransaction, InMemoryDatabase


@dataclass
class StoredStory:
    story: Story
    status: StoryStatus = StoryStatus.SUBMITTED
    rejection_reason: RejectionReason | None = None
    published: StoryApproved | None = None
    response_count: int = 0


@dataclass
class StoredKey:
    fingerprint: bytes
    answer: StoredAnswer | None = None
    story_id: UUID | None = None
    withdrawn: bool = False


@dataclass
class FakeState:
    organisations: dict[str, Organisation] = field(default_factory=dict)
    stories: dict[UUID, StoredStory] = field(default_factory=dict)
    responses: dict[UUID, StaffResponse] = field(default_factory=dict)
    about_you: dict[UUID, AboutYou] = field(default_factory=dict)
    voices_published: dict[str, datetime] = field(default_factory=dict)
    keys: dict[tuple[str, str], StoredKey] = field(default_factory=dict)
    inbox: set[UUID] = field(default_factory=set)
    outbox: list[tuple[UUID, BaseEvent]] = field(default_factory=list)
    # Outbox tombstones: (topic, key, story id).
    tombstones: list[tuple[Topic, str, UUID]] = field(default_factory=list)
    # How many times events went to the outbox in one call of `add_events` (bulk writes).
    bulk_writes: list[int] = field(default_factory=list)


class FakeDirectory:
    def __init__(self, state: FakeState) -> None:
        self.data = state

    async def get(self, organisation_id: str) -> Organisation | None:
        return self.data.organisations.get(organisation_id)

    async def all(self) -> list[Organisation]:
        return sorted(self.data.organisations.values(), key=lambda o: o.name)

    async def upsert(self, org: Organisation) -> None:
        self.data.organisations[org.id] = org

    async def name(self, organisation_id: str) -> str:
        org = self.data.organisations.get(organisation_id)
        return org.name if org else organisation_id


class FakeStories:
    def __init__(self, state: FakeState) -> None:
        self.data = state

    async def add(self, story: Story) -> None:
        await self.add_many([story])

    async def add_many(self, stories: Sequence[Story]) -> None:
        for story in stories:
            assert story.id not in self.data.stories
            if story.external_id is not None:  # the unique index
                assert story.external_id not in await self.imported(
                    story.source.value, [story.external_id]
                )
            self.data.stories[story.id] = StoredStory(story)

    async def lock_imports(self, source: str) -> None:
        return None  # one transaction at a time already

    async def imported(self, source: str, external_ids: Sequence[str]) -> dict[str, UUID]:
        return {
            s.story.external_id: s.story.id
            for s in self.data.stories.values()
            if s.story.source.value == source and s.story.external_id in external_ids
        }

    async def state(self, story_id: UUID, *, for_update: bool = False) -> StoryState | None:
        stored = self.data.stories.get(story_id)
        if stored is None:
            return None
        return StoryState(
            id=story_id,
            organisation_id=stored.story.organisation.id,
            status=stored.status,
            author_token_hash=stored.story.author_token_hash,
            rejection_reason=stored.rejection_reason,
            response_count=stored.response_count,
            safeguarding_level=stored.story.safeguarding_level,
            version=stored.story.version,
        )

    async def get(self, story_id: UUID) -> Story | None:
        stored = self.data.stories.get(story_id)
        return stored.story if stored is not None else None

    async def save_edit(self, story: Story) -> None:
        stored = self.data.stories[story.id]
        stored.story = story
        stored.status, stored.rejection_reason = StoryStatus.SUBMITTED, None

    async def record_publication(self, event: StoryApproved) -> None:
        stored = self.data.stories[event.story_id]
        newer = stored.published is None or stored.published.revision < event.revision
        if stored.status is not StoryStatus.WITHDRAWN and newer:
            stored.status, stored.published = StoryStatus.PUBLISHED, event

    async def record_publications(self, events: Sequence[StoryApproved]) -> None:
        for event in events:
            await self.record_publication(event)

    async def mark_rejected(
        self, story_id: UUID, rejected_at: datetime, reason: RejectionReason, version: int = 1
    ) -> None:
        stored = self.data.stories[story_id]
        editable = stored.status in (StoryStatus.SUBMITTED, StoryStatus.REJECTED)
        if editable and version >= stored.story.version:
            stored.status, stored.rejection_reason = StoryStatus.REJECTED, reason

    async def mark_withdrawn(self, story_id: UUID, withdrawn_at: datetime) -> None:
        stored = self.data.stories[story_id]
        stored.status = StoryStatus.WITHDRAWN
        stored.story = dataclasses.replace(stored.story, title="", body="")
        stored.published = None
        for response_id, response in self.data.responses.items():
            if response.story_id == story_id:
                self.data.responses[response_id] = dataclasses.replace(response, body="")

    async def published(self, story_id: UUID) -> PublishedStory | None:
        stored = self.data.stories.get(story_id)
        if stored is None or stored.status is not StoryStatus.PUBLISHED:
            return None
        assert stored.published is not None
        event = stored.published
        return PublishedStory(
            id=story_id,
            organisation_id=stored.story.organisation.id,
            title=event.title,
            body=event.body,
            service_id=event.service.id if event.service else None,
            service_name=event.service.name if event.service else None,
            criticality=event.criticality,
            published_at=event.published_at,
            response_count=stored.response_count,
        )

    async def inbox(self, query: InboxQuery) -> InboxPage:
        found = [
            story
            for story_id in self.data.stories
            if (story := await self.published(story_id)) is not None
            and story.organisation_id == query.organisation_id
        ]
        page = found[query.offset : query.offset + query.page_size]
        return InboxPage(stories=tuple(page), total=len(found), query=query)


class FakeResponses:
    def __init__(self, state: FakeState) -> None:
        self.data = state

    async def ids(self, story_id: UUID) -> list[UUID]:
        return sorted(r.id for r in self.data.responses.values() if r.story_id == story_id)

    async def add(self, response_id: UUID, command: PostResponse, posted_at: datetime) -> None:
        self.data.responses[response_id] = StaffResponse(
            id=response_id,
            story_id=command.story_id,
            organisation_id=command.organisation_id,
            responder=command.responder,
            responder_subject=command.responder_subject,
            body=command.body,
            change=command.change,
            posted_at=posted_at,
            version=1,
            edited_at=None,
            deleted_at=None,
        )
        self.data.stories[command.story_id].response_count += 1

    async def get(
        self, story_id: UUID, response_id: UUID, *, for_update: bool = False
    ) -> StaffResponse | None:
        response = self.data.responses.get(response_id)
        return response if response is not None and response.story_id == story_id else None

    async def standing(self, story_id: UUID) -> list[StaffResponse]:
        return [
            r
            for r in self.data.responses.values()
            if r.story_id == story_id and r.deleted_at is None
        ]

    async def save_version(self, response: StaffResponse, *, deleted: bool) -> None:
        assert response.id in self.data.responses
        self.data.responses[response.id] = response
        if deleted:
            self.data.stories[response.story_id].response_count -= 1


class FakeAboutYou:
    def __init__(self, state: FakeState) -> None:
        self.data = state

    async def add(self, story_id: UUID, about_you: AboutYou) -> None:
        self.data.about_you[story_id] = about_you

    async def add_many(self, answers: Sequence[tuple[UUID, AboutYou]]) -> None:
        self.data.about_you.update(answers)

    async def erase(self, story_id: UUID) -> None:
        self.data.about_you.pop(story_id, None)

    async def programmes(self) -> list[str]:
        return sorted(
            {s.programme for o in self.data.organisations.values() for s in o.services} - {None}  # type: ignore[arg-type]
        )

    async def answer_counts(self) -> list[AnswerCount]:
        return []  # the counting is SQL's (tests/integration/intake/test_about_you.py)

    async def lock_publishing(self) -> None:
        return None

    async def last_published(self) -> datetime | None:
        return max(self.data.voices_published.values(), default=None)

    async def mark_published(self, programmes: list[str], at: datetime) -> None:
        self.data.voices_published.update(dict.fromkeys(programmes, at))


class FakeIdempotencyKeys:
    def __init__(self, state: FakeState) -> None:
        self.data = state

    async def claim(
        self, *, key: str, scope: str, fingerprint: bytes, ttl: timedelta
    ) -> StoredAnswer | None:
        stored = self.data.keys.get((scope, key))
        if stored is None:
            self.data.keys[(scope, key)] = StoredKey(fingerprint)
            return None
        if stored.fingerprint != fingerprint:
            raise KeyReusedWithDifferentRequest()
        return await self.replay(key=key, scope=scope)

    async def complete(
        self, *, key: str, scope: str, answer: StoredAnswer, story_id: UUID | None
    ) -> None:
        stored = self.data.keys[(scope, key)]
        stored.answer, stored.story_id = answer, story_id

    async def replay(self, *, key: str, scope: str) -> StoredAnswer | None:
        from candour_intake.domain import AnswerWithdrawn

        stored = self.data.keys.get((scope, key))
        if stored is None:
            return None
        if stored.withdrawn:
            raise AnswerWithdrawn()
        return stored.answer

    async def forget_story(self, story_id: UUID) -> int:
        forgotten = 0
        for stored in self.data.keys.values():
            if stored.story_id == story_id:
                stored.answer, stored.story_id, stored.withdrawn = None, None, True
                forgotten += 1
        return forgotten


class FakeIntakeUnitOfWork(FakeTransaction[FakeState], IntakeUnitOfWork):
    """One transaction on a `FakeDatabase` (tests/unit/fake_unit_of_work.py)."""

    def _bind(self, state: FakeState) -> None:
        self.directory = FakeDirectory(state)
        self.stories = FakeStories(state)
        self.responses = FakeResponses(state)
        self.about_you = FakeAboutYou(state)
        self.idempotency_keys = FakeIdempotencyKeys(state)

    async def add_events(self, events: Sequence[BaseEvent]) -> list[UUID]:
        self._state.bulk_writes.append(len(events))
        return [await self.add_event(event) for event in events]


class FakeDatabase(InMemoryDatabase[FakeState]):
    """story-intake's database in memory; `uow()` is a fresh unit of work on it."""

    def __init__(self) -> None:
        super().__init__(FakeState())

    def uow(self) -> FakeIntakeUnitOfWork:
        return FakeIntakeUnitOfWork(self)
