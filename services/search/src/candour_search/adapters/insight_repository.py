"""SQL for programme-level insight over the search index.

Every figure is a sum, so it comes from the counts the index's triggers keep (migration
0012): search_daily_counts for every organisation; for one organisation,
search_monthly_counts for the whole months of the period and the index for the partial
months at its ends. Exact, and as fast for a million stories as for a hundred.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

import asyncpg

from candour_common.db import Connection
from candour_common.events import Source
from candour_search.adapters.sql import (
    DAILY_CELLS,
    MONTHLY_CELLS,
    Params,
    outside_whole_months,
    whole_months,
)
from candour_search.counting import month_span
from candour_search.insight import (
    InsightQuery,
    InsightReport,
    Reach,
    ReachGroup,
    month_label,
    programme_label,
    source_label,
)


@dataclass(frozen=True, slots=True)
class _Cell:
    month: date
    source: str
    programme: str  # '' for none
    reach: Reach
    responded: int


async def _cells(conn: Connection, query: InsightQuery) -> list[_Cell]:
    """The stories of the period (and organisation, source) summed per month, source and
    programme."""
    if query.organisation_id is None:
        return await _daily_cells(conn, query)
    params = Params()
    filters_m: list[str] = []
    filters_s: list[str] = []
    if query.organisation_id is not None:
        organisation = params(query.organisation_id)
        filters_m.append(f"m.organisation_id = {organisation}")
        filters_s.append(f"s.organisation_id = {organisation}")
    if query.source is not None:
        source = params(query.source.value)
        filters_m.append(f"m.source = {source}")
        filters_s.append(f"s.source = {source}")
    span = month_span(query.since, query.before)
    parts: list[str] = []
    if not span.empty:
        where = list(filters_m)
        where += whole_months(span, params)
        parts.append(
            f"""
            SELECT m.month, m.source, m.programme, m.stories, m.individuals, m.patients,
                   m.carers, m.staff, m.responded
            FROM {MONTHLY_CELLS} m WHERE {" AND ".join(where) or "true"}
            """  # noqa: S608 - bind parameters only
        )
    if query.since is not None or query.before is not None:
        where = list(filters_s)
        if query.since is not None:
            where.append(f"s.published_at >= {params(query.since)}")
        if query.before is not None:
            where.append(f"s.published_at < {params(query.before)}")
        if not span.empty:
            where.append(outside_whole_months(span, params))
        parts.append(
            f"""
            SELECT date_trunc('month', s.published_at, 'UTC')::date, s.source,
                   coalesce(s.programme, ''), 1, s.individuals, s.patients, s.carers, s.staff,
                   (s.response_count > 0)::int
            FROM search_stories s WHERE {" AND ".join(where)}
            """  # noqa: S608 - bind parameters only
        )
    rows = await conn.fetch(
        f"""
        SELECT month, source, programme, sum(entries) AS entries,
               sum(individuals) AS individuals, sum(patients) AS patients,
               sum(carers) AS carers, sum(staff) AS staff, sum(responded) AS responded
        FROM ({" UNION ALL ".join(parts)}) AS cells (month, source, programme, entries,
             individuals, patients, carers, staff, responded)
        GROUP BY 1, 2, 3
        HAVING sum(entries) > 0
        """,  # noqa: S608 - bind parameters only
        *params.values,
    )
    return [_cell(r) for r in rows]


async def _daily_cells(conn: Connection, query: InsightQuery) -> list[_Cell]:
    """Every organisation: search_daily_counts answers any period exactly."""
    params = Params()
    where: list[str] = []
    if query.source is not None:
        where.append(f"d.source = {params(query.source.value)}")
    if query.since is not None:
        where.append(f"d.day >= {params(query.since.date())}::date")
    if query.before is not None:
        where.append(f"d.day < {params(query.before.date())}::date")
    rows = await conn.fetch(
        f"""
        SELECT date_trunc('month', d.day::timestamp)::date AS month, d.source, d.programme,
               sum(d.stories) AS entries, sum(d.individuals) AS individuals,
               sum(d.patients) AS patients, sum(d.carers) AS carers, sum(d.staff) AS staff,
               sum(d.responded) AS responded
        FROM {DAILY_CELLS} d
        WHERE {" AND ".join(where) or "true"}
        GROUP BY 1, 2, 3
        HAVING sum(d.stories) > 0
        """,  # noqa: S608 - bind parameters only
        *params.values,
    )
    return [_cell(r) for r in rows]


def _cell(r: asyncpg.Record) -> _Cell:
    return _Cell(
        month=r["month"],
        source=r["source"],
        programme=r["programme"],
        reach=Reach(
            entries=int(r["entries"]),
            individuals=int(r["individuals"]),
            patients=int(r["patients"]),
            carers=int(r["carers"]),
            staff=int(r["staff"]),
        ),
        responded=int(r["responded"]),
    )


def _sum(cells: Iterable[_Cell]) -> Reach:
    total = Reach(0, 0, 0, 0, 0)
    for c in cells:
        r = c.reach
        total = Reach(
            total.entries + r.entries,
            total.individuals + r.individuals,
            total.patients + r.patients,
            total.carers + r.carers,
            total.staff + r.staff,
        )
    return total


def _grouped(cells: Iterable[_Cell], key: Callable[[_Cell], str]) -> dict[str, Reach]:
    groups: dict[str, list[_Cell]] = defaultdict(list)
    for c in cells:
        groups[key(c)].append(c)
    return {value: _sum(members) for value, members in groups.items()}


def _by_entries(groups: dict[str, Reach]) -> list[tuple[str, Reach]]:
    return sorted(groups.items(), key=lambda item: (-item[1].entries, item[0]))


async def insight(conn: Connection, query: InsightQuery) -> InsightReport:
    cells = await _cells(conn, query)
    chosen = [c for c in cells if query.programme is None or c.programme == query.programme]
    return InsightReport(
        query=query,
        overall=_sum(cells),
        selected=_sum(chosen) if query.programme is not None else None,
        responded=sum(c.responded for c in chosen),
        by_source=tuple(
            ReachGroup(value, source_label(Source(value)), reach)
            for value, reach in _by_entries(_grouped(chosen, lambda c: c.source))
        ),
        by_programme=tuple(
            ReachGroup(
                value or "none",
                programme_label(value) if value else "No programme given",
                reach,
            )
            for value, reach in _by_entries(_grouped(cells, lambda c: c.programme))
        ),
        by_month=tuple(
            ReachGroup(value, month_label(value), reach)
            for value, reach in sorted(
                _grouped(chosen, lambda c: c.month.strftime("%Y-%m")).items()
            )
        ),
    )
