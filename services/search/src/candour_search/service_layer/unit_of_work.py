"""Search's unit of work: one transaction with the index, the directory, the voices
summaries, the themes and the index's read model, beside the inbox and outbox every
service has (`candour_common.db.uow`).

Handlers are typed with `SearchUnitOfWork`; bootstrap wires the PostgreSQL one, the unit
tests an in-memory one (tests/unit/search/fakes.py). The rebuild's catch-up applies the
same handlers on its own connection, in its build schema (`SearchUnitOfWorkOn`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from candour_common.db import Connection
from candour_common.db.inbox import InboxEntry, record_new
from candour_common.db.uow import AbstractUnitOfWork, UnitOfWork
from candour_common.events import BaseEvent, ResponsePosted, StoryApproved, VoicesSummarised
from candour_common.topics import Topic
from candour_search.adapters.counts import Summary
from candour_search.adapters.directory import DirectoryEntry, ListedOrganisation
from candour_search.adapters.hits import Hits
from candour_search.adapters.index_reads import PostgresIndexReads
from candour_search.adapters.index_repository import (
    PostgresDirectory,
    PostgresStoryIndex,
    PostgresVoices,
)
from candour_search.adapters.theme_repository import FoundTheme, StoredTheme, ThemeRepository
from candour_search.domain import PublishedStory, SearchStories, StatsReport, StoryStatsQuery
from candour_search.feeds import FeedResponse, FeedStory
from candour_search.insight import InsightQuery, InsightReport
from candour_search.response_rates import OrganisationRate
from candour_search.story_map import MapStory
from candour_search.theme_report import ThemeReport

# The inbox's name for search's consumers (and the rebuild's replay of them).
CONSUMER = "search"


class StoryIndex(Protocol):
    """The published stories and their responses, as the public events write them."""

    async def is_withdrawn(self, story_id: UUID) -> bool: ...

    async def withdrawn_among(self, story_ids: Sequence[UUID]) -> set[UUID]:
        """Which of `story_ids` were withdrawn (they stay out of the index)."""
        ...

    async def upsert_story(self, event: StoryApproved) -> bool:
        """Insert the story (its response columns from the responses already stored) or
        replace an older revision (they stay); False if ours is as new or newer."""
        ...

    async def upsert_stories(self, events: Sequence[StoryApproved]) -> set[UUID]:
        """`upsert_story` for many stories at once (one event per story); the stories
        written."""
        ...

    async def add_response(self, event: ResponsePosted) -> bool:
        """Apply a version of a response; False for a version no newer than one seen."""
        ...

    async def refresh_response_aggregates(self, story_ids: Iterable[UUID]) -> None:
        """Recompute the stories' response columns from their responses."""
        ...

    async def withdraw_story(self, story_id: UUID, withdrawn_at: datetime) -> None:
        """Delete every trace of the story's content; remember only its id."""
        ...

    async def remove_response(self, response_id: UUID) -> None: ...

    async def remove_responses(self, story_id: UUID) -> None: ...

    async def compact_counts(self) -> int | None:
        """Fold the count tables' delta rows; None if another session is doing it."""
        ...


class Directory(Protocol):
    async def upsert_organisations(self, organisations: Iterable[DirectoryEntry]) -> int:
        """Add or rename directory entries; how many were given."""
        ...


class VoicesStore(Protocol):
    async def save(self, summary: VoicesSummarised) -> None:
        """Keep `summary` unless a newer one of its programme is already kept."""
        ...


class Themes(Protocol):
    async def programmes(self) -> list[str]: ...

    async def entries(self, programme: str) -> list[tuple[UUID, str]]: ...

    async def current(self, programme: str) -> list[StoredTheme]: ...

    async def replace(
        self,
        programme: str,
        themes: Sequence[FoundTheme],
        assignments: Sequence[tuple[UUID, UUID, float]],
        *,
        started_at: datetime,
        built_at: datetime,
    ) -> None: ...

    async def last_run(self) -> datetime | None: ...

    async def forget_story(self, story_id: UUID) -> None: ...

    async def rename(self, theme_id: UUID, name: str | None) -> None: ...

    async def merge(self, theme_id: UUID, into: UUID) -> None: ...

    async def unmerge(self, theme_id: UUID) -> None: ...

    async def report(self, query: InsightQuery) -> ThemeReport: ...


class IndexReads(Protocol):
    """The read model: what the pages, the API and the feeds show."""

    async def snapshot(self) -> None:
        """Make the rest of the unit of work one read-only snapshot (call it first)."""
        ...

    async def search_summary(self, query: SearchStories) -> Summary: ...

    async def search_page(self, query: SearchStories, *, words_last: bool) -> Hits: ...

    async def story(self, story_id: UUID) -> PublishedStory | None: ...

    async def story_stats(self, query: StoryStatsQuery) -> StatsReport: ...

    async def stories_since(
        self, organisation_id: str, since: datetime, *, limit: int
    ) -> tuple[int, list[MapStory]]: ...

    async def organisation_index(self) -> list[ListedOrganisation]: ...

    async def directory_name(self, organisation_id: str) -> str | None: ...

    async def welsh_names(self) -> dict[str, str]: ...

    async def organisation_rates(self, days: int) -> list[OrganisationRate]: ...

    async def newest_stories(self, query: SearchStories, limit: int) -> list[FeedStory]: ...

    async def newest_responses(self, query: SearchStories, limit: int) -> list[FeedResponse]: ...

    async def insight(self, query: InsightQuery) -> InsightReport: ...

    async def voices(self, programme: str) -> VoicesSummarised | None: ...


class SearchUnitOfWork(AbstractUnitOfWork):
    """What search's handlers work with, inside `async with uow:`."""

    index: StoryIndex
    directory: Directory
    voices: VoicesStore
    themes: Themes
    reads: IndexReads


def _bind(uow: SearchUnitOfWork, conn: Connection) -> None:
    uow.index = PostgresStoryIndex(conn)
    uow.directory = PostgresDirectory(conn)
    uow.voices = PostgresVoices(conn)
    uow.themes = ThemeRepository(conn)
    uow.reads = PostgresIndexReads(conn)


class PostgresSearchUnitOfWork(UnitOfWork, SearchUnitOfWork):
    """Search's unit of work on its PostgreSQL database."""

    def bind(self, conn: Connection) -> None:
        _bind(self, conn)


class SearchUnitOfWorkOn(SearchUnitOfWork):
    """Search's unit of work inside a transaction its caller holds on `conn`: the
    rebuild's catch-up, which applies the live handlers to its build schema (the
    connection's search_path) many events per transaction. It commits nothing itself;
    search publishes nothing, so it has no outbox."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn
        _bind(self, conn)

    async def _begin(self) -> None:
        if not self._conn.is_in_transaction():
            raise RuntimeError("SearchUnitOfWorkOn joins its caller's transaction")

    async def _commit(self) -> None:
        """The caller commits."""

    async def _rollback(self) -> None:
        """The caller's transaction fails with the exception that got here."""

    async def record_new(self, entries: Sequence[InboxEntry]) -> set[uuid.UUID]:
        return await record_new(self._conn, consumer=CONSUMER, entries=entries)

    async def add_event(self, event: BaseEvent) -> uuid.UUID:
        raise NotImplementedError("search publishes no events")

    async def add_tombstone(self, topic: Topic, key: str, *, story_id: uuid.UUID) -> uuid.UUID:
        raise NotImplementedError("search publishes no tombstones")

    async def erase_story_events(self, story_id: uuid.UUID) -> int:
        return 0  # search's outbox is always empty
