"""SQL building shared by search's read queries: bind parameters and the WHERE clause of a
search (over the index, or over its sample, which has the same columns)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from candour_common.db import Connection
from candour_common.events import ChangeMarker
from candour_search.domain import SearchStories


class Params:
    """Collects query arguments and hands out their `$n` placeholders."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def matching(
    query: SearchStories, params: Params, *, table: str = "search_stories"
) -> tuple[str, str, str | None]:
    """The FROM and WHERE clauses selecting the stories `query` matches (before paging),
    and the placeholder of `q` if there is one. `table` is the index or its sample."""
    source = f"{table} s"
    where: list[str] = []
    q = None
    if query.q is not None:
        q = params(query.q)
        source += f", websearch_to_tsquery('english', {q}) AS tsq"
        where.append("s.document @@ tsq")
    if query.organisation_id is not None:
        where.append(f"s.organisation_id = {params(query.organisation_id)}")
    if query.service_id is not None:
        where.append(f"s.service_id = {params(query.service_id)}")
    if query.tags:
        where.append(f"s.tags @> {params(list(query.tags))}::text[]")
    if query.min_criticality is not None:
        where.append(f"s.criticality >= {params(query.min_criticality)}")
    if query.max_criticality is not None:
        where.append(f"s.criticality <= {params(query.max_criticality)}")
    if query.responded is not None:
        where.append(f"(s.response_count > 0) = {params(query.responded)}")
    if query.change is ChangeMarker.PLANNED:
        where.append("s.change_planned")
    elif query.change is ChangeMarker.MADE:
        where.append("s.change_made")
    if query.published_since is not None:
        where.append(f"s.published_at >= {params(query.published_since)}")
    if query.published_before is not None:
        where.append(f"s.published_at < {params(query.published_before)}")
    return source, " AND ".join(where) or "true", q


async def names(
    conn: Connection, id_column: str, name_column: str, ids: Sequence[str]
) -> dict[str, str]:
    """The name of the newest story of each organisation (or service) id."""
    if not ids:
        return {}
    rows = await conn.fetch(
        f"""
        SELECT ids.id, (
            SELECT s.{name_column} FROM search_stories s WHERE s.{id_column} = ids.id
            ORDER BY s.published_at DESC, s.story_id DESC LIMIT 1
        ) AS name
        FROM unnest($1::text[]) AS ids (id)
        """,  # noqa: S608 - column names are fixed by the callers above
        list(ids),
    )
    return {r["id"]: r["name"] for r in rows if r["name"] is not None}
