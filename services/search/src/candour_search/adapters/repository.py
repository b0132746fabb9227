"""asyncpg persistence for the search index: writing it from events, and querying it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from candour_common.db import Connection
from candour_common.events import (
    ChangeMarker,
    Relationship,
    ResponsePosted,
    StoryApproved,
    StoryLanguage,
    Tags,
)
from candour_search.domain import (
    PublishedResponse,
    PublishedStory,
    Ref,
    searchable_tags,
)

# ---------------------------------------------------------------- writing


async def is_withdrawn(conn: Connection, story_id: UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM search_withdrawn WHERE story_id = $1)", story_id
        )
    )


# The columns a story.approved sets, in the order of `story_values`; the index's other
# columns are the response aggregates, the document (a trigger) and indexed_at. The
# rebuild's bulk load (adapters/bulk_index.py) writes the same values.
STORY_COLUMNS = (
    "story_id",
    "revision",
    "title",
    "body",
    "organisation_id",
    "organisation_name",
    "service_id",
    "service_name",
    "author_name",
    "author_relationship",
    "tag_groups",
    "tags",
    "criticality",
    "experienced_at",
    "published_at",
    "source",
    "programme",
    "individuals",
    "patients",
    "carers",
    "staff",
    "safeguarding_categories",
    "language",
)


def story_values(event: StoryApproved) -> tuple[object, ...]:
    """The values of STORY_COLUMNS for a story.approved (tag_groups as JSON text)."""
    return (
        event.story_id,
        event.revision,
        event.title,
        event.body,
        event.organisation.id,
        event.organisation.name,
        event.service.id if event.service else None,
        event.service.name if event.service else None,
        event.author.display_name,
        event.author.relationship.value,
        event.tags.model_dump_json(),
        searchable_tags(event.tags),
        event.criticality,
        event.experienced_at,
        event.published_at,
        event.source.value,
        event.service.programme if event.service else None,
        event.represents.individuals,
        event.represents.patients,
        event.represents.carers,
        event.represents.staff,
        event.safeguarding_categories,
        event.language.value,
    )


# A story's response columns (AGGREGATE_COLUMNS of index_fold.py) from the responses
# stored for it (responses may be consumed before their story: another topic), as
# refresh_response_aggregates computes them. A revision replacing an older one keeps the
# row's columns, which the response handlers keep right.
_RESPONSE_AGGREGATES = """
    LEFT JOIN LATERAL (
        SELECT count(r.response_id)::int AS n,
               min(r.posted_at) AS first_at,
               coalesce(bool_or(r.change = 'planned'), false) AS planned,
               coalesce(bool_or(r.change = 'made'), false) AS made,
               coalesce(string_agg(r.body, E'\\n' ORDER BY r.posted_at, r.response_id), '')
                   AS text
        FROM search_responses r WHERE r.story_id = new.story_id
    ) agg ON true
"""


def _upsert(rows: str) -> str:
    """Insert the stories of `rows` (a FROM item named `new` with STORY_COLUMNS) with their
    response columns, or replace an older revision; returns the ids written. One
    statement, so the document trigger runs once per story, response text included (it
    used to be computed again by a second statement for a story with responses)."""
    return f"""
    INSERT INTO search_stories ({", ".join(STORY_COLUMNS)}, response_count, first_response_at,
                                change_planned, change_made, response_text, document)
    SELECT {", ".join(f"new.{c}" for c in STORY_COLUMNS)}, agg.n, agg.first_at,
           agg.planned, agg.made, agg.text, ''::tsvector
    FROM {rows}
    {_RESPONSE_AGGREGATES}
    ON CONFLICT (story_id) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in STORY_COLUMNS if c != "story_id")},
        indexed_at = now()
    WHERE search_stories.revision < EXCLUDED.revision
    RETURNING story_id
    """  # noqa: S608 - fixed column names only


# The same upsert for many stories (one event per story) in one statement: the rows go
# as one JSON array, typed by the table's own row type.
_UPSERT_STORIES = _upsert("json_populate_recordset(NULL::search_stories, $1::json) AS new")


async def upsert_stories(conn: Connection, events: Sequence[StoryApproved]) -> set[UUID]:
    """`upsert_story` for many stories (one event per story) in one statement; the ids of
    the stories written."""
    rows = []
    for event in events:
        row = dict(zip(STORY_COLUMNS, story_values(event), strict=True))
        row["tag_groups"] = json.loads(event.tags.model_dump_json())
        rows.append(row)
    written = await conn.fetch(_UPSERT_STORIES, json.dumps(rows, default=str))
    return {r["story_id"] for r in written}


async def upsert_story(conn: Connection, event: StoryApproved) -> bool:
    """Insert the story or replace an older revision of it; False if ours is as new or newer."""
    return bool(await upsert_stories(conn, [event]))


async def add_response(conn: Connection, event: ResponsePosted) -> bool:
    """Apply a version of a response: store it, replace an older version, or (deleted)
    take it out. False (nothing changed) for a version no newer than one already seen."""
    newer = await conn.fetchval(
        """
        INSERT INTO search_response_versions (response_id, story_id, version, deleted)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (response_id) DO UPDATE SET version = EXCLUDED.version,
                                                deleted = EXCLUDED.deleted
        WHERE search_response_versions.version < EXCLUDED.version
        RETURNING true
        """,
        event.response_id,
        event.story_id,
        event.version,
        event.deleted,
    )
    if not newer:
        return False
    if event.deleted:
        await conn.execute("DELETE FROM search_responses WHERE response_id = $1", event.response_id)
        return True
    await conn.execute(
        """
        INSERT INTO search_responses (response_id, story_id, posted_at, organisation_id,
                                      responder_name, responder_role, body, change, edited_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (response_id) DO UPDATE SET
            responder_name = EXCLUDED.responder_name, responder_role = EXCLUDED.responder_role,
            body = EXCLUDED.body, change = EXCLUDED.change, edited_at = EXCLUDED.edited_at
        """,
        event.response_id,
        event.story_id,
        event.posted_at,
        event.organisation.id,
        event.responder.display_name,
        event.responder.role,
        event.body,
        event.change.value if event.change else None,
        event.edited_at,
    )
    return True


async def refresh_response_aggregates(conn: Connection, story_ids: Sequence[UUID]) -> None:
    """Recompute the stories' response columns (and so their documents) from their
    responses, in one statement; a story whose columns are right already is not written."""
    await conn.execute(
        """
        UPDATE search_stories s SET
            response_count = agg.n,
            first_response_at = agg.first_at,
            change_planned = agg.planned,
            change_made = agg.made,
            response_text = agg.text
        FROM (
            SELECT ids.story_id,
                   count(r.response_id)::int AS n,
                   min(r.posted_at) AS first_at,
                   coalesce(bool_or(r.change = 'planned'), false) AS planned,
                   coalesce(bool_or(r.change = 'made'), false) AS made,
                   coalesce(string_agg(r.body, E'\n' ORDER BY r.posted_at, r.response_id), '')
                       AS text
            FROM unnest($1::uuid[]) AS ids (story_id)
            LEFT JOIN search_responses r ON r.story_id = ids.story_id
            GROUP BY ids.story_id
        ) agg
        WHERE s.story_id = agg.story_id
          AND (s.response_count, s.first_response_at, s.change_planned, s.change_made,
               s.response_text)
              IS DISTINCT FROM (agg.n, agg.first_at, agg.planned, agg.made, agg.text)
        """,
        list(story_ids),
    )


async def withdraw_story(conn: Connection, story_id: UUID, withdrawn_at: datetime) -> None:
    """Delete every trace of the story's content; remember only its id."""
    await conn.execute("DELETE FROM search_responses WHERE story_id = $1", story_id)
    await conn.execute("DELETE FROM search_response_versions WHERE story_id = $1", story_id)
    await conn.execute("DELETE FROM search_stories WHERE story_id = $1", story_id)
    await conn.execute(
        "INSERT INTO search_withdrawn (story_id, withdrawn_at) VALUES ($1, $2)"
        " ON CONFLICT (story_id) DO NOTHING",
        story_id,
        withdrawn_at,
    )


async def remove_response(conn: Connection, response_id: UUID) -> UUID | None:
    """Delete one response (its tombstone arrived); return its story, if it was stored."""
    story_id = await conn.fetchval(
        "DELETE FROM search_responses WHERE response_id = $1 RETURNING story_id", response_id
    )
    return story_id if isinstance(story_id, UUID) else None


async def remove_responses(conn: Connection, story_id: UUID) -> None:
    """Delete every response of the story (a tombstone keyed by the story id alone)."""
    await conn.execute("DELETE FROM search_responses WHERE story_id = $1", story_id)


# ---------------------------------------------------------------- reading: story page


async def get_story(conn: Connection, story_id: UUID) -> PublishedStory | None:
    row = await conn.fetchrow(
        """
        SELECT story_id, revision, title, body, organisation_id, organisation_name,
               service_id, service_name, author_name, author_relationship,
               tag_groups::text AS tag_groups, criticality, experienced_at, published_at,
               safeguarding_categories, language
        FROM search_stories WHERE story_id = $1
        """,
        story_id,
    )
    if row is None:
        return None
    responses = await conn.fetch(
        """
        SELECT response_id, posted_at, responder_name, responder_role, body, change, edited_at
        FROM search_responses WHERE story_id = $1 ORDER BY posted_at, response_id
        """,
        story_id,
    )
    return PublishedStory(
        story_id=row["story_id"],
        revision=row["revision"],
        title=row["title"],
        body=row["body"],
        organisation=Ref(id=row["organisation_id"], name=row["organisation_name"]),
        service=_service_ref(row),
        author_name=row["author_name"],
        author_relationship=Relationship(row["author_relationship"]),
        tags=Tags.model_validate(json.loads(row["tag_groups"])),
        criticality=row["criticality"],
        experienced_at=row["experienced_at"],
        published_at=row["published_at"],
        safeguarding_categories=tuple(row["safeguarding_categories"]),
        language=StoryLanguage(row["language"]),
        responses=tuple(
            PublishedResponse(
                response_id=r["response_id"],
                posted_at=r["posted_at"],
                responder_name=r["responder_name"],
                responder_role=r["responder_role"],
                body=r["body"],
                change=ChangeMarker(r["change"]) if r["change"] else None,
                edited_at=r["edited_at"],
            )
            for r in responses
        ),
    )


def _service_ref(row: asyncpg.Record) -> Ref | None:
    if row["service_id"] is None:
        return None
    return Ref(id=row["service_id"], name=row["service_name"])


# ---------------------------------------------------------------- counts upkeep

# Distinct from the migrations' and the rebuild's advisory lock keys.
COMPACT_LOCK_KEY = 0x53454152434843  # "SEARCHC"


async def compact_counts(conn: Connection) -> int | None:
    """Fold the count tables' delta rows into one row per cell (search_compact_counts, in
    migration 0012); None if another session is doing it. Call inside a transaction."""
    if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", COMPACT_LOCK_KEY):
        return None
    folded: int = await conn.fetchval("SELECT search_compact_counts()")
    return folded
