"""In-memory stand-ins for search's unit of work, with transaction semantics.

The write side mirrors the SQL of adapters/repository.py (revision and version checks,
withdrawal markers, response columns recomputed on refresh); the read model answers
from the same state, as far as the unit tests read it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from candour_common.events import (
    BaseEvent,
    ResponsePosted,
    StoryApproved,
    VoicesSummarised,
)
from candour_common.topics import Topic
from candour_search.adapters.counts import Summary
from candour_search.adapters.directory import DirectoryEntry, ListedOrganisation
from candour_search.adapters.hits import Hits
from candour_search.adapters.theme_repository import FoundTheme, StoredTheme
from candour_search.domain import PublishedStory, SearchStories, StatsReport, StoryStatsQuery
from candour_search.feeds import FeedResponse, FeedStory
from candour_search.insight import InsightQuery, InsightReport
from candour_search.response_rates import OrganisationRate
from candour_search.service_layer.unit_of_work import SearchUnitOfWork
from candour_search.story_map import MapStory
from candour_search.theme_report import ThemeReport
from tests.unit.fake_unit_of_work import FakeTransaction, InMemoryDatabase


@dataclass(frozen=True)
class IndexedStory:
    """A row of search_stories: the revision kept and its response columns."""

    event: StoryApproved
    response_count: int = 0
    first_response_at: datetime | None = None
    response_text: str = ""


@dataclass
class FakeState:
    stories: dict[UUID, IndexedStory] = field(default_factory=dict)
    responses: dict[UUID, ResponsePosted] = field(default_factory=dict)
    # response id -> (story id, version, deleted), as search_response_versions.
    versions: dict[UUID, tuple[UUID, int, bool]] = field(default_factory=dict)
    withdrawn: dict[UUID, datetime] = field(default_factory=dict)
    organisations: dict[str, str] = field(default_factory=dict)
    welsh_names: dict[str, str] = field(default_factory=dict)
    voices: dict[str, VoicesSummarised] = field(default_factory=dict)
    # Stories whose theme assignments were forgotten (withdrawn).
    forgotten: list[UUID] = field(default_factory=list)
    inbox: set[UUID] = field(default_factory=set)
    statements: int = 0  # writes, for comparing one by one with batches
    snapshots: int = 0


class FakeStoryIndex:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def is_withdrawn(self, story_id: UUID) -> bool:
        return story_id in self.state.withdrawn

    async def withdrawn_among(self, story_ids: Sequence[UUID]) -> set[UUID]:
        return {s for s in story_ids if s in self.state.withdrawn}

    async def upsert_story(self, event: StoryApproved) -> bool:
        self.state.statements += 1
        kept = self.state.stories.get(event.story_id)
        if kept is not None and kept.event.revision >= event.revision:
            return False
        if kept is None:
            # A new story counts the responses stored before it, in the same statement.
            self.state.stories[event.story_id] = IndexedStory(event)
            self._aggregate(event.story_id)
        else:
            self.state.stories[event.story_id] = IndexedStory(
                event, kept.response_count, kept.first_response_at, kept.response_text
            )
        return True

    async def upsert_stories(self, events: Sequence[StoryApproved]) -> set[UUID]:
        assert len({e.story_id for e in events}) == len(events), "one event per story"
        written = set()
        for event in events:
            if await self.upsert_story(event):
                written.add(event.story_id)
        self.state.statements -= len(events) - 1  # one statement for them all
        return written

    async def add_response(self, event: ResponsePosted) -> bool:
        self.state.statements += 1
        seen = self.state.versions.get(event.response_id)
        if seen is not None and seen[1] >= event.version:
            return False
        self.state.versions[event.response_id] = (event.story_id, event.version, event.deleted)
        if event.deleted:
            self.state.responses.pop(event.response_id, None)
        else:
            first = self.state.responses.get(event.response_id)
            # The upsert keeps the first version's posting time.
            posted_at = first.posted_at if first is not None else event.posted_at
            self.state.responses[event.response_id] = event.model_copy(
                update={"posted_at": posted_at}
            )
        return True

    async def refresh_response_aggregates(self, story_ids: Iterable[UUID]) -> None:
        self.state.statements += 1  # one statement for them all
        for story_id in set(story_ids):
            self._aggregate(story_id)

    def _aggregate(self, story_id: UUID) -> None:
        kept = self.state.stories.get(story_id)
        if kept is not None:
            responses = sorted(
                (r for r in self.state.responses.values() if r.story_id == story_id),
                key=lambda r: (r.posted_at, r.response_id),
            )
            self.state.stories[story_id] = IndexedStory(
                kept.event,
                len(responses),
                responses[0].posted_at if responses else None,
                "\n".join(r.body for r in responses),
            )

    async def withdraw_story(self, story_id: UUID, withdrawn_at: datetime) -> None:
        self.state.statements += 1
        self.state.stories.pop(story_id, None)
        self.state.responses = {
            k: r for k, r in self.state.responses.items() if r.story_id != story_id
        }
        self.state.versions = {k: v for k, v in self.state.versions.items() if v[0] != story_id}
        self.state.withdrawn.setdefault(story_id, withdrawn_at)

    async def remove_response(self, response_id: UUID) -> None:
        self.state.responses.pop(response_id, None)

    async def remove_responses(self, story_id: UUID) -> None:
        self.state.responses = {
            k: r for k, r in self.state.responses.items() if r.story_id != story_id
        }

    async def compact_counts(self) -> int | None:
        return 0


class FakeDirectory:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def upsert_organisations(self, organisations: Iterable[DirectoryEntry]) -> int:
        rows = list(organisations)
        self.state.organisations.update((row.id, row.name) for row in rows)
        for row in rows:
            if row.name_cy is None:
                self.state.welsh_names.pop(row.id, None)
            else:
                self.state.welsh_names[row.id] = row.name_cy
        return len(rows)


class FakeVoices:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def save(self, summary: VoicesSummarised) -> None:
        kept = self.state.voices.get(summary.programme)
        if kept is None or kept.summarised_at <= summary.summarised_at:
            self.state.voices[summary.programme] = summary


class FakeThemes:
    """Only what the event handlers use: the SQL of themes is tested against PostgreSQL."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def forget_story(self, story_id: UUID) -> None:
        self.state.forgotten.append(story_id)

    async def programmes(self) -> list[str]:
        return []

    async def entries(self, programme: str) -> list[tuple[UUID, str]]:
        return []

    async def current(self, programme: str) -> list[StoredTheme]:
        return []

    async def replace(
        self,
        programme: str,
        themes: Sequence[FoundTheme],
        assignments: Sequence[tuple[UUID, UUID, float]],
        *,
        started_at: datetime,
        built_at: datetime,
    ) -> None:
        raise NotImplementedError("themes are tested against PostgreSQL")

    async def last_run(self) -> datetime | None:
        return None

    async def rename(self, theme_id: UUID, name: str | None) -> None:
        raise NotImplementedError("themes are tested against PostgreSQL")

    async def merge(self, theme_id: UUID, into: UUID) -> None:
        raise NotImplementedError("themes are tested against PostgreSQL")

    async def unmerge(self, theme_id: UUID) -> None:
        raise NotImplementedError("themes are tested against PostgreSQL")

    async def report(self, query: InsightQuery) -> ThemeReport:
        raise NotImplementedError("themes are tested against PostgreSQL")


class FakeIndexReads:
    """The read model over the fake state; the counting and ranking SQL is tested
    against PostgreSQL (tests/integration/search), so those reads are not faked."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def snapshot(self) -> None:
        self.state.snapshots += 1

    async def welsh_names(self) -> dict[str, str]:
        return dict(self.state.welsh_names)

    async def directory_name(self, organisation_id: str) -> str | None:
        return self.state.organisations.get(organisation_id)

    async def voices(self, programme: str) -> VoicesSummarised | None:
        return self.state.voices.get(programme)

    async def organisation_index(self) -> list[ListedOrganisation]:
        counted: dict[str, int] = {}
        names = dict(self.state.organisations)
        for kept in self.state.stories.values():
            org = kept.event.organisation
            counted[org.id] = counted.get(org.id, 0) + 1
            names.setdefault(org.id, org.name)
        listed = [ListedOrganisation(i, n, counted.get(i, 0)) for i, n in names.items()]
        return sorted(listed, key=lambda o: (o.name.casefold(), o.id))

    async def search_summary(self, query: SearchStories) -> Summary:
        raise NotImplementedError("counting is tested against PostgreSQL")

    async def search_page(self, query: SearchStories, *, words_last: bool) -> Hits:
        raise NotImplementedError("ranking is tested against PostgreSQL")

    async def story(self, story_id: UUID) -> PublishedStory | None:
        raise NotImplementedError("the story page is tested against PostgreSQL")

    async def story_stats(self, query: StoryStatsQuery) -> StatsReport:
        raise NotImplementedError("statistics are tested against PostgreSQL")

    async def stories_since(
        self, organisation_id: str, since: datetime, *, limit: int
    ) -> tuple[int, list[MapStory]]:
        raise NotImplementedError("the story map is tested against PostgreSQL")

    async def organisation_rates(self, days: int) -> list[OrganisationRate]:
        raise NotImplementedError("response rates are tested against PostgreSQL")

    async def newest_stories(self, query: SearchStories, limit: int) -> list[FeedStory]:
        raise NotImplementedError("feeds are tested against PostgreSQL")

    async def newest_responses(self, query: SearchStories, limit: int) -> list[FeedResponse]:
        raise NotImplementedError("feeds are tested against PostgreSQL")

    async def insight(self, query: InsightQuery) -> InsightReport:
        raise NotImplementedError("insight is tested against PostgreSQL")


class FakeSearchUnitOfWork(FakeTransaction[FakeState], SearchUnitOfWork):
    """One transaction on a `FakeDatabase` (tests/unit/fake_unit_of_work.py)."""

    def _bind(self, state: FakeState) -> None:
        self.index = FakeStoryIndex(state)
        self.directory = FakeDirectory(state)
        self.voices = FakeVoices(state)
        self.themes = FakeThemes(state)
        self.reads = FakeIndexReads(state)

    async def add_event(self, event: BaseEvent) -> UUID:
        raise AssertionError("search publishes no events")

    async def add_tombstone(self, topic: Topic, key: str, *, story_id: UUID) -> UUID:
        raise AssertionError("search publishes no tombstones")

    async def erase_story_events(self, story_id: UUID) -> int:
        return 0


class FakeDatabase(InMemoryDatabase[FakeState]):
    """Search's database in memory; `uow()` is a fresh unit of work on it."""

    def __init__(self) -> None:
        super().__init__(FakeState())

    def uow(self) -> FakeSearchUnitOfWork:
        return FakeSearchUnitOfWork(self)
