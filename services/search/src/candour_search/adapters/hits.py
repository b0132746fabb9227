"""One page of search hits, newest first or by relevance.

By relevance only a bounded first pass is ranked: the RELEVANCE_WINDOW newest matches (so a
common word costs a few hundred documents, not every match); the older matches follow,
newest first. The first page fixes the window's edge (its oldest story) and the cursor
carries it, so later pages rank the same window: a story arriving meanwhile joins the
window and does not push another out of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from candour_common.db import Connection
from candour_common.events import StoryLanguage
from candour_search.adapters.sql import Matching, Params, match
from candour_search.domain import (
    RELEVANCE_WINDOW,
    Ref,
    SearchStories,
    Sort,
    StoryHit,
    WindowEdge,
    plain_snippet,
)

# Escape first, then mark: the published text may contain markup, and the snippet
# is meant to be inserted into a page as HTML.
HEADLINE_OPTIONS = (
    "StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=15, ShortWord=3, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)
_HIT_COLUMNS = (
    "s.story_id, s.title, s.body, s.organisation_id, s.organisation_name, s.service_id, "
    "s.service_name, s.tags, s.criticality, s.published_at, s.response_count, "
    "s.change_planned, s.change_made, s.language"
)


@dataclass(frozen=True, slots=True)
class Hits:
    """A page of hits plus one more (whose presence says there is a next page), and by
    relevance the edge of the ranked window (None when it holds every match)."""

    hits: list[StoryHit]
    window: WindowEdge | None = None


async def search_page(conn: Connection, query: SearchStories, *, words_last: bool = False) -> Hits:
    """`words_last`: the words are common (counting found them in a large share of the
    sample), so with filters read the filters' stories newest first and check the words on
    each, rather than let the planner intersect the words' long GIN list with the filters."""
    words_last = words_last and query.q is not None
    if query.effective_sort is Sort.NEWEST:
        after = query.after
        hits = await _newest(
            conn, query, after=_key(after), limit=query.limit + 1, words_last=words_last
        )
        return Hits(hits)
    return await _by_relevance(conn, query, words_last=words_last)


def _source(m: Matching, conditions: list[str], *, words_last: bool) -> tuple[str, str]:
    """FROM and WHERE of the stories `m` matches that also meet `conditions` (on the
    index's columns)."""
    everything = [*m.filters, *conditions]
    words = m.words
    if words_last and words and everything:
        # `IS TRUE` is the same test, but no index can answer it: the planner reads the
        # filters' stories through their b-tree (newest first) and checks the words on each.
        words = f"({words}) IS TRUE"
    return m.source, " AND ".join(filter(None, [words, *everything])) or "true"


def _key(cursor: Any) -> tuple[Any, Any] | None:
    return (cursor.published_at, cursor.story_id) if cursor is not None else None


def _snippet(words: str | None, row: str) -> str:
    """The snippet of the story `row` (with `body` and `language`) where it matches
    `words` (its tsquery), in the configuration of the story's language."""
    if words is None:
        return "NULL::text"
    return (
        f"ts_headline(search_text_config({row}.language), search_html_escape({row}.body), "
        f"{words}, '{HEADLINE_OPTIONS}')"
    )


async def _newest(
    conn: Connection,
    query: SearchStories,
    *,
    after: tuple[Any, Any] | None,
    limit: int,
    before_window: WindowEdge | None = None,
    words_last: bool = False,
) -> list[StoryHit]:
    """Matches newest first, after the key `after`, older than the window if one is given."""
    params = Params()
    m = match(query, params)
    conditions = []
    window = (before_window.published_at, before_window.story_id) if before_window else None
    for key in (after, window):
        if key is not None:
            conditions.append(
                f"(s.published_at, s.story_id) < ({params(key[0])}::timestamptz, "
                f"{params(key[1])}::uuid)"
            )
    source, where = _source(m, conditions, words_last=words_last)
    sql = f"""
        WITH page AS (
            SELECT {_HIT_COLUMNS}, NULL::float8 AS rank, {m.story_words or "NULL"} AS words
            FROM {source}
            WHERE {where}
            ORDER BY s.published_at DESC, s.story_id DESC
            LIMIT {params(limit)}
        )
        SELECT page.*, {_snippet(m.story_words and "page.words", "page")} AS snippet
        FROM page ORDER BY published_at DESC, story_id DESC
    """  # noqa: S608 - every value is a bind parameter; only fixed fragments are formatted
    return [_hit(r) for r in await conn.fetch(sql, *params.values)]


async def _by_relevance(conn: Connection, query: SearchStories, *, words_last: bool) -> Hits:
    after = query.after
    limit = query.limit + 1
    if after is not None and after.past_window:
        older = await _newest(
            conn,
            query,
            after=_key(after),
            limit=limit,
            before_window=after.window,
            words_last=words_last,
        )
        return Hits(older, after.window)
    hits, window = await _ranked(conn, query, words_last=words_last)
    if len(hits) < limit and window is not None:
        hits += await _newest(
            conn,
            query,
            after=None,
            limit=limit - len(hits),
            before_window=window,
            words_last=words_last,
        )
    return Hits(hits, window)


async def _ranked(
    conn: Connection, query: SearchStories, *, words_last: bool
) -> tuple[list[StoryHit], WindowEdge | None]:
    """The next hits of the ranked window, and the window's edge."""
    after = query.after
    params = Params()
    m = match(query, params)
    assert m.story_words is not None  # relevance needs words (SearchStories.effective_sort)
    bounds: list[str] = []
    if after is None:
        # The first page decides the window: the newest RELEVANCE_WINDOW matches.
        window_limit = f"LIMIT {params(RELEVANCE_WINDOW)}"
    elif after.window is not None:
        bounds.append(
            f"(s.published_at, s.story_id) >= ({params(after.window.published_at)}::timestamptz, "
            f"{params(after.window.story_id)}::uuid)"
        )
        window_limit = ""
    else:
        window_limit = ""  # the first page's window held every match
    source, where = _source(m, bounds, words_last=words_last)
    page_after = "true"
    if after is not None:
        page_after = (
            f"(rank, published_at, story_id) < ({params(after.rank)}::float8, "
            f"{params(after.published_at)}::timestamptz, {params(after.story_id)}::uuid)"
        )
    sql = f"""
        WITH matched AS MATERIALIZED (
            SELECT s.story_id, s.published_at, s.document, {m.story_words} AS words
            FROM {source}
            WHERE {where}
            ORDER BY s.published_at DESC, s.story_id DESC
            {window_limit}
        ),
        ranked AS (
            SELECT story_id, published_at, words, ts_rank(document, words)::float8 AS rank
            FROM matched
        ),
        page AS (
            SELECT * FROM ranked
            WHERE {page_after}
            ORDER BY rank DESC, published_at DESC, story_id DESC
            LIMIT {params(query.limit + 1)}
        )
        SELECT {_HIT_COLUMNS}, page.rank, {_snippet("page.words", "s")} AS snippet,
               (SELECT count(*) FROM matched) AS window_size,
               edge.published_at AS edge_published_at, edge.story_id AS edge_story_id
        FROM page
        JOIN search_stories s ON s.story_id = page.story_id
        LEFT JOIN LATERAL (
            SELECT published_at, story_id FROM matched
            ORDER BY published_at, story_id LIMIT 1
        ) edge ON true
        ORDER BY page.rank DESC, page.published_at DESC, page.story_id DESC
    """  # noqa: S608 - every value is a bind parameter; only fixed fragments are formatted
    rows = await conn.fetch(sql, *params.values)
    if after is not None:
        window = after.window
    elif rows and rows[0]["window_size"] >= RELEVANCE_WINDOW:
        window = WindowEdge(rows[0]["edge_published_at"], rows[0]["edge_story_id"])
    else:
        window = None
    return [_hit(r) for r in rows], window


def _hit(r: asyncpg.Record) -> StoryHit:
    return StoryHit(
        story_id=r["story_id"],
        title=r["title"],
        snippet=r["snippet"] if r["snippet"] is not None else plain_snippet(r["body"]),
        organisation=Ref(id=r["organisation_id"], name=r["organisation_name"]),
        service=(
            Ref(id=r["service_id"], name=r["service_name"]) if r["service_id"] is not None else None
        ),
        tags=tuple(r["tags"]),
        criticality=r["criticality"],
        published_at=r["published_at"],
        response_count=r["response_count"],
        rank=r["rank"],
        change_planned=r["change_planned"],
        change_made=r["change_made"],
        language=StoryLanguage(r["language"]),
    )
