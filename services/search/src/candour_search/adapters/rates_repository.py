"""The figures of the response-rate table, one row per organisation."""

from __future__ import annotations

from candour_common.db import Connection
from candour_search.response_rates import OrganisationRate


async def organisation_rates(conn: Connection, days: int) -> list[OrganisationRate]:
    rows = await conn.fetch(
        """
        SELECT organisation_id,
               (array_agg(organisation_name ORDER BY published_at DESC))[1] AS name,
               count(*)::int AS stories,
               count(*) FILTER (WHERE response_count > 0)::int AS responded,
               percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY extract(epoch FROM first_response_at - published_at) / 3600
               ) FILTER (WHERE first_response_at IS NOT NULL) AS median_hours,
               count(*) FILTER (WHERE change_planned)::int AS changes_planned,
               count(*) FILTER (WHERE change_made)::int AS changes_made
        FROM search_stories
        WHERE published_at >= now() - make_interval(days => $1)
        GROUP BY organisation_id
        """,
        days,
    )
    return [
        OrganisationRate(
            organisation_id=r["organisation_id"],
            name=r["name"],
            stories=r["stories"],
            responded=r["responded"],
            median_hours_to_first_response=(
                round(float(r["median_hours"]), 1) if r["median_hours"] is not None else None
            ),
            changes_planned=r["changes_planned"],
            changes_made=r["changes_made"],
        )
        for r in rows
    ]
