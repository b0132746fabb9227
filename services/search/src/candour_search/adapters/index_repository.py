"""The index's repositories as the unit of work offers them: classes holding the open
transaction's connection, over the SQL of repository.py, directory.py and
voices_repository.py (which the rebuild's bulk load shares)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from candour_common.db import Connection
from candour_common.events import ResponsePosted, StoryApproved, VoicesSummarised
from candour_search.adapters import directory, repository, voices_repository


class PostgresStoryIndex:
    """The published stories and their responses, as the events write them."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def is_withdrawn(self, story_id: UUID) -> bool:
        return await repository.is_withdrawn(self._conn, story_id)

    async def withdrawn_among(self, story_ids: Sequence[UUID]) -> set[UUID]:
        rows = await self._conn.fetch(
            "SELECT story_id FROM search_withdrawn WHERE story_id = ANY($1::uuid[])",
            list(story_ids),
        )
        return {r["story_id"] for r in rows}

    async def upsert_story(self, event: StoryApproved) -> bool:
        return await repository.upsert_story(self._conn, event)

    async def upsert_stories(self, events: Sequence[StoryApproved]) -> set[UUID]:
        if not events:
            return set()
        return await repository.upsert_stories(self._conn, events)

    async def add_response(self, event: ResponsePosted) -> bool:
        return await repository.add_response(self._conn, event)

    async def refresh_response_aggregates(self, story_ids: Iterable[UUID]) -> None:
        unique = sorted(set(story_ids))
        if unique:
            await repository.refresh_response_aggregates(self._conn, unique)

    async def withdraw_story(self, story_id: UUID, withdrawn_at: datetime) -> None:
        await repository.withdraw_story(self._conn, story_id, withdrawn_at)

    async def remove_response(self, response_id: UUID) -> None:
        await repository.remove_response(self._conn, response_id)

    async def remove_responses(self, story_id: UUID) -> None:
        await repository.remove_responses(self._conn, story_id)

    async def compact_counts(self) -> int | None:
        return await repository.compact_counts(self._conn)


class PostgresDirectory:
    """Search's copy of the organisation directory."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def upsert_organisations(self, organisations: Iterable[directory.DirectoryEntry]) -> int:
        return await directory.upsert_organisations(self._conn, organisations)


class PostgresVoices:
    """The newest voices summary of each programme."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def save(self, summary: VoicesSummarised) -> None:
        await voices_repository.save(self._conn, summary)
