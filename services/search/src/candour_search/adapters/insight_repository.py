"""SQL for programme-level insight over the search index."""

from __future__ import annotations

from typing import Any

from candour_common.db import Connection
from candour_common.events import Source
from candour_search.insight import (
    InsightQuery,
    InsightReport,
    Reach,
    ReachGroup,
    month_label,
    programme_label,
    source_label,
)

_REACH = """
    count(*)::int AS entries,
    coalesce(sum(individuals), 0)::int AS individuals,
    coalesce(sum(patients), 0)::int AS patients,
    coalesce(sum(carers), 0)::int AS carers,
    coalesce(sum(staff), 0)::int AS staff
"""
# Every filter but the programme: $1 since, $2 before, $3 organisation, $4 source.
_WHERE = """
    ($1::timestamptz IS NULL OR published_at >= $1)
    AND ($2::timestamptz IS NULL OR published_at < $2)
    AND ($3::text IS NULL OR organisation_id = $3)
    AND ($4::text IS NULL OR source = $4)
"""
_PROGRAMME = " AND ($5::text IS NULL OR programme = $5)"


def _reach(row: Any) -> Reach:
    return Reach(
        entries=row["entries"],
        individuals=row["individuals"],
        patients=row["patients"],
        carers=row["carers"],
        staff=row["staff"],
    )


async def insight(conn: Connection, query: InsightQuery) -> InsightReport:
    base = (
        query.since,
        query.before,
        query.organisation_id,
        query.source.value if query.source else None,
    )
    with_programme = (*base, query.programme)
    overall = await conn.fetchrow(f"SELECT {_REACH} FROM search_stories WHERE {_WHERE}", *base)  # noqa: S608
    selected = None
    if query.programme is not None:
        selected = await conn.fetchrow(
            f"SELECT {_REACH} FROM search_stories WHERE {_WHERE}{_PROGRAMME}",  # noqa: S608
            *with_programme,
        )
    responded = await conn.fetchval(
        f"SELECT count(*) FROM search_stories WHERE {_WHERE}{_PROGRAMME} AND response_count > 0",  # noqa: S608
        *with_programme,
    )
    by_source = await conn.fetch(
        f"SELECT source AS value, {_REACH} FROM search_stories WHERE {_WHERE}{_PROGRAMME} "  # noqa: S608
        "GROUP BY source ORDER BY entries DESC, source",
        *with_programme,
    )
    by_programme = await conn.fetch(
        f"SELECT coalesce(programme, '') AS value, {_REACH} FROM search_stories "  # noqa: S608
        f"WHERE {_WHERE} GROUP BY 1 ORDER BY entries DESC, 1",
        *base,
    )
    by_month = await conn.fetch(
        f"SELECT to_char(published_at AT TIME ZONE 'UTC', 'YYYY-MM') AS value, {_REACH} "  # noqa: S608
        f"FROM search_stories WHERE {_WHERE}{_PROGRAMME} GROUP BY 1 ORDER BY 1",
        *with_programme,
    )
    assert overall is not None
    return InsightReport(
        query=query,
        overall=_reach(overall),
        selected=_reach(selected) if selected is not None else None,
        responded=int(responded or 0),
        by_source=tuple(
            ReachGroup(r["value"], source_label(Source(r["value"])), _reach(r)) for r in by_source
        ),
        by_programme=tuple(
            ReachGroup(
                r["value"] or "none",
                programme_label(r["value"]) if r["value"] else "No programme given",
                _reach(r),
            )
            for r in by_programme
        ),
        by_month=tuple(
            ReachGroup(r["value"], month_label(r["value"]), _reach(r)) for r in by_month
        ),
    )
