"""asyncpg persistence for the search index: writing it from events, and querying it."""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID

import asyncpg

from candour_common.db import Connection
from candour_common.events import (
    CRITICALITY_LABELS,
    ChangeMarker,
    Relationship,
    ResponsePosted,
    StoryApproved,
    Tags,
)
from candour_search.adapters.sql import Params
from candour_search.domain import (
    PublishedResponse,
    PublishedStory,
    Ref,
    StatsGroup,
    StatsGrouping,
    StatsReport,
    StoryStats,
    StoryStatsQuery,
    month_label,
    searchable_tags,
)

# ---------------------------------------------------------------- writing


async def is_withdrawn(conn: Connection, story_id: UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM search_withdrawn WHERE story_id = $1)", story_id
        )
    )


async def upsert_story(conn: Connection, event: StoryApproved) -> bool:
    """Insert the story or replace an older revision of it; False if ours is as new or newer."""
    status = await conn.execute(
        """
        INSERT INTO search_stories (
            story_id, revision, title, body, organisation_id, organisation_name,
            service_id, service_name, author_name, author_relationship, tag_groups, tags,
            criticality, experienced_at, published_at, document, source, programme,
            individuals, patients, carers, staff)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14, $15,
                ''::tsvector, $16, $17, $18, $19, $20, $21)
        ON CONFLICT (story_id) DO UPDATE SET
            revision = EXCLUDED.revision, title = EXCLUDED.title, body = EXCLUDED.body,
            organisation_id = EXCLUDED.organisation_id,
            organisation_name = EXCLUDED.organisation_name,
            service_id = EXCLUDED.service_id, service_name = EXCLUDED.service_name,
            author_name = EXCLUDED.author_name,
            author_relationship = EXCLUDED.author_relationship,
            tag_groups = EXCLUDED.tag_groups, tags = EXCLUDED.tags,
            criticality = EXCLUDED.criticality, experienced_at = EXCLUDED.experienced_at,
            published_at = EXCLUDED.published_at, indexed_at = now(),
            source = EXCLUDED.source, programme = EXCLUDED.programme,
            individuals = EXCLUDED.individuals, patients = EXCLUDED.patients,
            carers = EXCLUDED.carers, staff = EXCLUDED.staff
        WHERE search_stories.revision < EXCLUDED.revision
        """,
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
    )
    return bool(status == "INSERT 0 1")


async def add_response(conn: Connection, event: ResponsePosted) -> bool:
    """Store the response; False if it is already stored."""
    status = await conn.execute(
        """
        INSERT INTO search_responses (response_id, story_id, posted_at, organisation_id,
                                      responder_name, responder_role, body, change)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (response_id) DO NOTHING
        """,
        event.response_id,
        event.story_id,
        event.posted_at,
        event.organisation.id,
        event.responder.display_name,
        event.responder.role,
        event.body,
        event.change.value if event.change else None,
    )
    return bool(status == "INSERT 0 1")


async def refresh_response_aggregates(conn: Connection, story_id: UUID) -> None:
    """Recompute the story's response columns (and so its document) from its responses."""
    await conn.execute(
        """
        UPDATE search_stories s SET
            response_count = agg.n,
            first_response_at = agg.first_at,
            change_planned = agg.planned,
            change_made = agg.made,
            response_text = agg.text
        FROM (
            SELECT count(*)::int AS n,
                   min(posted_at) AS first_at,
                   coalesce(bool_or(change = 'planned'), false) AS planned,
                   coalesce(bool_or(change = 'made'), false) AS made,
                   coalesce(string_agg(body, E'\n' ORDER BY posted_at, response_id), '') AS text
            FROM search_responses WHERE story_id = $1
        ) agg
        WHERE s.story_id = $1
          AND (s.response_count, s.first_response_at, s.change_planned, s.change_made,
               s.response_text)
              IS DISTINCT FROM (agg.n, agg.first_at, agg.planned, agg.made, agg.text)
        """,
        story_id,
    )


async def withdraw_story(conn: Connection, story_id: UUID, withdrawn_at: datetime) -> None:
    """Delete every trace of the story's content; remember only its id."""
    await conn.execute("DELETE FROM search_responses WHERE story_id = $1", story_id)
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
               tag_groups::text AS tag_groups, criticality, experienced_at, published_at
        FROM search_stories WHERE story_id = $1
        """,
        story_id,
    )
    if row is None:
        return None
    responses = await conn.fetch(
        """
        SELECT response_id, posted_at, responder_name, responder_role, body, change
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
        responses=tuple(
            PublishedResponse(
                response_id=r["response_id"],
                posted_at=r["posted_at"],
                responder_name=r["responder_name"],
                responder_role=r["responder_role"],
                body=r["body"],
                change=ChangeMarker(r["change"]) if r["change"] else None,
            )
            for r in responses
        ),
    )


def _service_ref(row: asyncpg.Record) -> Ref | None:
    if row["service_id"] is None:
        return None
    return Ref(id=row["service_id"], name=row["service_name"])


# ---------------------------------------------------------------- reading: statistics

# The figures of one set of stories; the median ignores stories without a response
# (their first_response_at is NULL).
_STATS_COLUMNS = """
    count(*) AS stories,
    count(*) FILTER (WHERE s.response_count > 0) AS responded,
    percentile_cont(0.5) WITHIN GROUP (
        ORDER BY extract(epoch FROM s.first_response_at - s.published_at) / 3600.0
    ) AS median_hours,
    count(*) FILTER (WHERE s.change_planned) AS change_planned,
    count(*) FILTER (WHERE s.change_made) AS change_made
"""

# Per grouping: (extra FROM, group value, group label, ORDER BY).
_GROUPINGS: dict[StatsGrouping, tuple[str, str, str, str]] = {
    StatsGrouping.MONTH: (
        "",
        "to_char(s.published_at AT TIME ZONE 'UTC', 'YYYY-MM')",
        "NULL",
        "value",
    ),
    StatsGrouping.TAG: (
        "CROSS JOIN LATERAL unnest(s.tags) AS tag",
        "tag",
        "tag",
        "stories DESC, value",
    ),
    StatsGrouping.SERVICE: (
        "",
        "s.service_id",
        "(array_agg(s.service_name ORDER BY s.published_at DESC))[1]",
        "stories DESC, value NULLS LAST",
    ),
    StatsGrouping.CRITICALITY: (
        "",
        "s.criticality::text",
        "NULL",
        "value NULLS LAST",
    ),
}


def _stats(row: asyncpg.Record) -> StoryStats:
    median = row["median_hours"]
    return StoryStats(
        stories=int(row["stories"]),
        responded=int(row["responded"]),
        median_hours_to_first_response=float(median) if median is not None else None,
        change_planned=int(row["change_planned"]),
        change_made=int(row["change_made"]),
    )


def _group_label(grouping: StatsGrouping, value: str | None, label: str | None) -> str:
    if grouping is StatsGrouping.MONTH and value is not None:
        return month_label(value)
    if grouping is StatsGrouping.CRITICALITY:
        return CRITICALITY_LABELS[int(value)] if value is not None else "Not rated"
    if grouping is StatsGrouping.SERVICE and value is None:
        return "No service given"
    return label if label is not None else str(value)


async def story_stats(conn: Connection, query: StoryStatsQuery) -> StatsReport:
    params = Params()
    where: list[str] = []
    if query.organisation_id is not None:
        where.append(f"s.organisation_id = {params(query.organisation_id)}")
    if query.service_id is not None:
        where.append(f"s.service_id = {params(query.service_id)}")
    if query.published_since is not None:
        where.append(f"s.published_at >= {params(query.published_since)}")
    if query.published_before is not None:
        where.append(f"s.published_at < {params(query.published_before)}")
    condition = " AND ".join(where) or "true"
    overall = await conn.fetchrow(
        f"SELECT {_STATS_COLUMNS} FROM search_stories s WHERE {condition}",  # noqa: S608 - bind parameters only
        *params.values,
    )
    assert overall is not None  # an aggregate without GROUP BY always returns a row
    groups: list[StatsGroup] = []
    if query.group_by is not None:
        extra, value, label, order = _GROUPINGS[query.group_by]
        rows = await conn.fetch(
            f"""
            SELECT {value} AS value, {label} AS label, {_STATS_COLUMNS}
            FROM search_stories s {extra}
            WHERE {condition}
            GROUP BY 1
            ORDER BY {order}
            """,  # noqa: S608 - every value is a bind parameter; only fixed fragments are formatted
            *params.values,
        )
        groups = [
            StatsGroup(
                value=r["value"],
                label=_group_label(query.group_by, r["value"], r["label"]),
                stats=_stats(r),
            )
            for r in rows
        ]
    return StatsReport(overall=_stats(overall), group_by=query.group_by, groups=tuple(groups))
