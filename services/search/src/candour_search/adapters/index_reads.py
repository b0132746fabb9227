"""The index's read model as the unit of work offers it: every query of the public
pages, the API and the feeds, over the open transaction's connection."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from candour_common.db import Connection
from candour_common.events import VoicesSummarised
from candour_search.adapters import (
    counts,
    directory,
    feed_repository,
    hits,
    insight_repository,
    rates_repository,
    repository,
    stats_repository,
    story_map_repository,
    voices_repository,
)
from candour_search.domain import PublishedStory, SearchStories, StatsReport, StoryStatsQuery
from candour_search.feeds import FeedResponse, FeedStory
from candour_search.insight import InsightQuery, InsightReport
from candour_search.response_rates import OrganisationRate
from candour_search.story_map import MapStory


class PostgresIndexReads:
    """Reads of the index, in the unit of work's transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def snapshot(self) -> None:
        # The first statement of the transaction: every read after it sees one snapshot
        # (a page, its total and its facets describe the same stories), and writes none.
        await self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    async def search_summary(self, query: SearchStories) -> counts.Summary:
        return await counts.search_summary(self._conn, query)

    async def search_page(self, query: SearchStories, *, words_last: bool) -> hits.Hits:
        return await hits.search_page(self._conn, query, words_last=words_last)

    async def story(self, story_id: UUID) -> PublishedStory | None:
        return await repository.get_story(self._conn, story_id)

    async def story_stats(self, query: StoryStatsQuery) -> StatsReport:
        return await stats_repository.story_stats(self._conn, query)

    async def stories_since(
        self, organisation_id: str, since: datetime, *, limit: int
    ) -> tuple[int, list[MapStory]]:
        return await story_map_repository.stories_since(
            self._conn, organisation_id, since, limit=limit
        )

    async def organisation_index(self) -> list[directory.ListedOrganisation]:
        return await directory.organisation_index(self._conn)

    async def directory_name(self, organisation_id: str) -> str | None:
        return await directory.directory_name(self._conn, organisation_id)

    async def welsh_names(self) -> dict[str, str]:
        return await directory.welsh_names(self._conn)

    async def organisation_rates(self, days: int) -> list[OrganisationRate]:
        return await rates_repository.organisation_rates(self._conn, days)

    async def newest_stories(self, query: SearchStories, limit: int) -> list[FeedStory]:
        return await feed_repository.newest_stories(self._conn, query, limit)

    async def newest_responses(self, query: SearchStories, limit: int) -> list[FeedResponse]:
        return await feed_repository.newest_responses(self._conn, query, limit)

    async def insight(self, query: InsightQuery) -> InsightReport:
        return await insight_repository.insight(self._conn, query)

    async def voices(self, programme: str) -> VoicesSummarised | None:
        return await voices_repository.get(self._conn, programme)
