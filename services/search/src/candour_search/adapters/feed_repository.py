"""The rows of the Atom feeds: the newest stories, or the newest responses to them,
among the stories a search query matches (the same filters as /v1/search)."""

from __future__ import annotations

from candour_common.db import Connection
from candour_search.adapters.sql import Params, matching
from candour_search.domain import SearchStories
from candour_search.feeds import FeedResponse, FeedStory


async def newest_stories(conn: Connection, query: SearchStories, limit: int) -> list[FeedStory]:
    params = Params()
    source, where, _ = matching(query, params)
    rows = await conn.fetch(
        f"""
        SELECT s.story_id, s.title, s.body, s.author_name, s.organisation_name, s.service_name,
               s.tags, s.criticality, s.published_at,
               greatest(s.published_at, s.indexed_at) AS updated_at
        FROM {source} WHERE {where}
        ORDER BY s.published_at DESC, s.story_id DESC
        LIMIT {params(limit)}
        """,  # noqa: S608 - every value is a bind parameter
        *params.values,
    )
    return [
        FeedStory(
            story_id=r["story_id"],
            title=r["title"],
            body=r["body"],
            author_name=r["author_name"],
            organisation_name=r["organisation_name"],
            service_name=r["service_name"],
            tags=tuple(r["tags"]),
            criticality=r["criticality"],
            published_at=r["published_at"],
            updated_at=r["updated_at"],
        )
        for r in rows
    ]


async def newest_responses(
    conn: Connection, query: SearchStories, limit: int
) -> list[FeedResponse]:
    params = Params()
    source, where, _ = matching(query, params)
    rows = await conn.fetch(
        f"""
        SELECT r.response_id, r.story_id, s.title, s.organisation_name, r.responder_name,
               r.responder_role, r.body, r.change, r.posted_at
        FROM search_responses r
        JOIN LATERAL (SELECT s.* FROM {source} WHERE {where} AND s.story_id = r.story_id) s
             ON true
        ORDER BY r.posted_at DESC, r.response_id DESC
        LIMIT {params(limit)}
        """,  # noqa: S608 - every value is a bind parameter
        *params.values,
    )
    return [
        FeedResponse(
            response_id=r["response_id"],
            story_id=r["story_id"],
            story_title=r["title"],
            organisation_name=r["organisation_name"],
            responder_name=r["responder_name"],
            responder_role=r["responder_role"],
            body=r["body"],
            change=r["change"],
            posted_at=r["posted_at"],
        )
        for r in rows
    ]
