"""How stories were answered (/v1/stats), at any size of index.

When the stories in scope are few (STATS_EXACT_LIMIT) every figure is computed from the
index. Over more, the counts come from the count tables: search_facet_counts when there
are no dates, search_monthly_counts for the whole months of a date range plus the index
for the partial months at its ends; the medians come from the sample (they need every
response time), and so do the counts of groupings the monthly counts do not keep (tag,
criticality) over a date range. Figures from the sample say so.
"""

from __future__ import annotations

from dataclasses import replace

import asyncpg

from candour_common.db import Connection
from candour_common.events import CRITICALITY_LABELS
from candour_search.adapters.sql import (
    DAILY_CELLS,
    FACET_CELLS,
    MONTHLY_CELLS,
    Params,
    names,
    outside_whole_months,
    whole_months,
)
from candour_search.counting import (
    ORGANISATION_BIT,
    SAMPLE_RATE,
    SERVICE_BITS,
    STATS_EXACT_LIMIT,
    SUMMED_BIT,
    TAG_BIT,
    month_span,
    months_touched,
    round_estimate,
)
from candour_search.domain import (
    StatsGroup,
    StatsGrouping,
    StatsReport,
    StoryStats,
    StoryStatsQuery,
    month_label,
)

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

# Per grouping, over the index or the sample: (extra FROM, group value).
_GROUPINGS: dict[StatsGrouping, tuple[str, str]] = {
    StatsGrouping.MONTH: ("", "to_char(s.published_at AT TIME ZONE 'UTC', 'YYYY-MM')"),
    StatsGrouping.TAG: ("CROSS JOIN LATERAL unnest(s.tags) AS tag", "tag"),
    StatsGrouping.SERVICE: ("", "s.service_id"),
    StatsGrouping.CRITICALITY: ("", "s.criticality::text"),
}

Groups = dict[str | None, StoryStats]


async def story_stats(conn: Connection, query: StoryStatsQuery) -> StatsReport:
    if await _scope(conn, query) <= STATS_EXACT_LIMIT:
        overall, groups = await _computed(conn, query, "search_stories")
        return await _report(conn, query, overall, groups)
    # The counts before the sample: the lock order of index_tables.INDEX_TABLES.
    counted = await _counted(conn, query)
    overall, groups = await _computed(conn, query, "search_sample")
    if counted is None:
        return await _report(
            conn, query, _scaled(overall), {k: _scaled(v) for k, v in groups.items()}
        )
    exact_overall, exact_groups = counted
    return await _report(
        conn,
        query,
        _with_median_of(exact_overall, overall),
        {k: _with_median_of(v, groups.get(k)) for k, v in exact_groups.items()},
    )


def _with_median_of(counts: StoryStats, sampled: StoryStats | None) -> StoryStats:
    """Exact counts with the median estimated from the sample."""
    median = sampled.median_hours_to_first_response if sampled is not None else None
    return replace(counts, median_hours_to_first_response=median, median_is_estimate=True)


def _scaled(sampled: StoryStats) -> StoryStats:
    def up(n: int) -> int:
        return round_estimate(n * SAMPLE_RATE, n)

    return StoryStats(
        stories=up(sampled.stories),
        responded=up(sampled.responded),
        median_hours_to_first_response=sampled.median_hours_to_first_response,
        change_planned=up(sampled.change_planned),
        change_made=up(sampled.change_made),
        counts_are_estimates=True,
        median_is_estimate=True,
    )


# ---------------------------------------------------------------- the stories in scope


def _index_conditions(query: StoryStatsQuery, params: Params) -> list[str]:
    where: list[str] = []
    if query.organisation_id is not None:
        where.append(f"s.organisation_id = {params(query.organisation_id)}")
    if query.service_id is not None:
        where.append(f"s.service_id = {params(query.service_id)}")
    if query.published_since is not None:
        where.append(f"s.published_at >= {params(query.published_since)}")
    if query.published_before is not None:
        where.append(f"s.published_at < {params(query.published_before)}")
    return where


def _monthly_conditions(query: StoryStatsQuery, params: Params) -> list[str]:
    where: list[str] = []
    if query.organisation_id is not None:
        where.append(f"m.organisation_id = {params(query.organisation_id)}")
    if query.service_id is not None:
        where.append(f"m.service_id = {params(query.service_id)}")
    return where


def _daily_conditions(query: StoryStatsQuery, params: Params) -> list[str]:
    """search_daily_counts: every organisation and service; the dates are whole UTC days."""
    where: list[str] = []
    if query.published_since is not None:
        where.append(f"d.day >= {params(query.published_since.date())}::date")
    if query.published_before is not None:
        where.append(f"d.day < {params(query.published_before.date())}::date")
    return where


def _facet_conditions(query: StoryStatsQuery, params: Params, level: int) -> list[str]:
    where = [f"c.level = {level}"]
    if query.organisation_id is not None:
        where.append(f"c.organisation_id = {params(query.organisation_id)}")
    if query.service_id is not None:
        where.append(f"c.service_id = {params(query.service_id)}")
    return where


def _level(query: StoryStatsQuery) -> int:
    level = ORGANISATION_BIT if query.organisation_id is not None else 0
    return level | SERVICE_BITS if query.service_id is not None else level


async def _scope(conn: Connection, query: StoryStatsQuery) -> int:
    """How many stories the filters select, from the counts (whole months for dates, so at
    most a month's stories too many at each end)."""
    params = Params()
    if query.published_since is None and query.published_before is None:
        where = _facet_conditions(query, params, _level(query) | SUMMED_BIT)
        sql = (
            f"SELECT sum(c.stories) FROM {FACET_CELLS} c "  # noqa: S608 - bind parameters only
            f"WHERE {' AND '.join(where)}"
        )
    elif query.organisation_id is None and query.service_id is None:
        where = _daily_conditions(query, params)
        sql = (
            f"SELECT sum(d.stories) FROM {DAILY_CELLS} d "  # noqa: S608 - bind parameters only
            f"WHERE {' AND '.join(where) or 'true'}"
        )
    else:
        first, end = months_touched(query.published_since, query.published_before)
        where = _monthly_conditions(query, params)
        if first is not None:
            where.append(f"m.month >= {params(first)}::date")
        if end is not None:
            where.append(f"m.month < {params(end)}::date")
        sql = (
            f"SELECT sum(m.stories) FROM {MONTHLY_CELLS} m "  # noqa: S608 - bind parameters only
            f"WHERE {' AND '.join(where) or 'true'}"
        )
    return int(await conn.fetchval(sql, *params.values) or 0)


# ---------------------------------------------------------------- computed from rows


async def _computed(
    conn: Connection, query: StoryStatsQuery, table: str
) -> tuple[StoryStats, Groups]:
    """The figures computed from the rows of `table`: the index (exact), or its sample
    (counts of the sample, not yet scaled)."""
    params = Params()
    condition = " AND ".join(_index_conditions(query, params)) or "true"
    if query.group_by not in (None, StatsGrouping.TAG):
        # Each story in one group: the overall figures and the groups' in one pass.
        _, value = _GROUPINGS[query.group_by]
        rows = await conn.fetch(
            f"""
            SELECT GROUPING({value}) = 1 AS overall, {value} AS value, {_STATS_COLUMNS}
            FROM {table} s
            WHERE {condition}
            GROUP BY GROUPING SETS ((), ({value}))
            """,  # noqa: S608 - every value is a bind parameter; only fixed fragments are formatted
            *params.values,
        )
        whole = next(r for r in rows if r["overall"])
        return _figures(whole), {r["value"]: _figures(r) for r in rows if not r["overall"]}
    overall = await conn.fetchrow(
        f"SELECT {_STATS_COLUMNS} FROM {table} s WHERE {condition}",  # noqa: S608 - bind parameters only
        *params.values,
    )
    assert overall is not None  # an aggregate without GROUP BY always returns a row
    groups: Groups = {}
    if query.group_by is not None:
        extra, value = _GROUPINGS[query.group_by]
        rows = await conn.fetch(
            f"""
            SELECT {value} AS value, {_STATS_COLUMNS}
            FROM {table} s {extra}
            WHERE {condition}
            GROUP BY 1
            """,  # noqa: S608 - every value is a bind parameter; only fixed fragments are formatted
            *params.values,
        )
        groups = {r["value"]: _figures(r) for r in rows}
    return _figures(overall), groups


def _figures(r: asyncpg.Record) -> StoryStats:
    median = r.get("median_hours")
    return StoryStats(
        stories=int(r["stories"] or 0),
        responded=int(r["responded"] or 0),
        median_hours_to_first_response=float(median) if median is not None else None,
        change_planned=int(r["change_planned"] or 0),
        change_made=int(r["change_made"] or 0),
    )


# ---------------------------------------------------------------- counted


async def _counted(conn: Connection, query: StoryStatsQuery) -> tuple[StoryStats, Groups] | None:
    """The exact counts (no medians) from the count tables, or None when they do not keep
    the grouping asked for over a date range (tag, criticality)."""
    dated = query.published_since is not None or query.published_before is not None
    if query.group_by is StatsGrouping.MONTH or (dated and query.group_by is not None):
        if query.group_by in (StatsGrouping.TAG, StatsGrouping.CRITICALITY):
            return None
        return await _from_monthly_counts(conn, query)
    if dated:
        return await _from_monthly_counts(conn, query)
    return await _from_facet_counts(conn, query)


_FACET_SUMS = """
    sum(c.stories) AS stories,
    sum(c.stories) FILTER (WHERE c.responded) AS responded,
    sum(c.stories) FILTER (WHERE c.change_planned) AS change_planned,
    sum(c.stories) FILTER (WHERE c.change_made) AS change_made
"""


async def _from_facet_counts(conn: Connection, query: StoryStatsQuery) -> tuple[StoryStats, Groups]:
    """All time (no dates): the overall counts and those per tag, service or criticality."""
    params = Params()
    level = _level(query)
    overall = await conn.fetchrow(
        f"SELECT {_FACET_SUMS} FROM {FACET_CELLS} c "  # noqa: S608 - bind parameters only
        f"WHERE {' AND '.join(_facet_conditions(query, params, level))}",
        *params.values,
    )
    assert overall is not None
    if query.group_by is None:
        return _figures(overall), {}
    params = Params()
    if query.group_by is StatsGrouping.TAG:
        value, level = "c.tag", level | TAG_BIT
    elif query.group_by is StatsGrouping.SERVICE:
        value, level = "nullif(c.service_id, '')", level | SERVICE_BITS
    else:
        value = "c.criticality::text"
    rows = await conn.fetch(
        f"SELECT {value} AS value, {_FACET_SUMS} FROM {FACET_CELLS} c "  # noqa: S608 - bind parameters only
        f"WHERE {' AND '.join(_facet_conditions(query, params, level))} GROUP BY 1",
        *params.values,
    )
    return _figures(overall), {r["value"]: _figures(r) for r in rows if r["stories"]}


async def _from_monthly_counts(
    conn: Connection, query: StoryStatsQuery
) -> tuple[StoryStats, Groups]:
    """Grouped by month or service, or not at all: for every organisation and service by
    month or overall, from search_daily_counts; otherwise whole months from
    search_monthly_counts and the partial months at the ends of a date range from the
    index."""
    params = Params()
    if (
        query.organisation_id is None
        and query.service_id is None
        and query.group_by is not StatsGrouping.SERVICE
    ):
        value = (
            "to_char(d.day::timestamp, 'YYYY-MM')"
            if query.group_by is StatsGrouping.MONTH
            else "NULL::text"
        )
        rows = await conn.fetch(
            f"""
            SELECT {value} AS value, sum(d.stories) AS stories, sum(d.responded) AS responded,
                   sum(d.change_planned) AS change_planned, sum(d.change_made) AS change_made
            FROM {DAILY_CELLS} d WHERE {" AND ".join(_daily_conditions(query, params)) or "true"}
            GROUP BY 1
            """,  # noqa: S608 - bind parameters only
            *params.values,
        )
        return _overall_and_groups(query, {r["value"]: _figures(r) for r in rows if r["stories"]})
    monthly_value, index_value = {
        StatsGrouping.MONTH: (
            "to_char(m.month::timestamp, 'YYYY-MM')",
            _GROUPINGS[StatsGrouping.MONTH][1],
        ),
        StatsGrouping.SERVICE: ("nullif(m.service_id, '')", "s.service_id"),
        None: ("NULL::text", "NULL::text"),
    }[query.group_by]
    span = month_span(query.published_since, query.published_before)
    parts: list[str] = []
    if not span.empty:
        where = _monthly_conditions(query, params)
        where += whole_months(span, params)
        parts.append(
            f"""
            SELECT {monthly_value} AS value, m.stories, m.responded, m.change_planned,
                   m.change_made
            FROM {MONTHLY_CELLS} m WHERE {" AND ".join(where) or "true"}
            """  # noqa: S608 - bind parameters only
        )
    if query.published_since is not None or query.published_before is not None:
        where = _index_conditions(query, params)
        if not span.empty:
            where.append(outside_whole_months(span, params))
        parts.append(
            f"""
            SELECT {index_value} AS value, 1, (s.response_count > 0)::int,
                   s.change_planned::int, s.change_made::int
            FROM search_stories s WHERE {" AND ".join(where)}
            """  # noqa: S608 - bind parameters only
        )
    rows = await conn.fetch(
        f"""
        SELECT value, sum(stories) AS stories, sum(responded) AS responded,
               sum(change_planned) AS change_planned, sum(change_made) AS change_made
        FROM ({" UNION ALL ".join(parts)}) AS cells (value, stories, responded, change_planned,
                                                    change_made)
        GROUP BY value
        """,  # noqa: S608 - bind parameters only
        *params.values,
    )
    return _overall_and_groups(query, {r["value"]: _figures(r) for r in rows if r["stories"]})


def _overall_and_groups(query: StoryStatsQuery, groups: Groups) -> tuple[StoryStats, Groups]:
    """The overall counts of groups that split the stories (each story in one group)."""
    overall = StoryStats(
        stories=sum(g.stories for g in groups.values()),
        responded=sum(g.responded for g in groups.values()),
        median_hours_to_first_response=None,
        change_planned=sum(g.change_planned for g in groups.values()),
        change_made=sum(g.change_made for g in groups.values()),
    )
    return overall, (groups if query.group_by is not None else {})


# ---------------------------------------------------------------- the report


def _order(grouping: StatsGrouping, value: str | None, stats: StoryStats) -> tuple[object, ...]:
    if grouping is StatsGrouping.MONTH:
        return (value or "",)
    if grouping is StatsGrouping.CRITICALITY:
        return (value is None, value or "")
    if grouping is StatsGrouping.SERVICE:
        return (-stats.stories, value is None, value or "")
    return (-stats.stories, value or "")


async def _report(
    conn: Connection, query: StoryStatsQuery, overall: StoryStats, groups: Groups
) -> StatsReport:
    grouping = query.group_by
    if grouping is None:
        return StatsReport(overall=overall, group_by=None, groups=())
    services: dict[str, str] = {}
    if grouping is StatsGrouping.SERVICE:
        ids = [v for v in groups if v is not None]
        services = await names(conn, "service_id", "service_name", ids)

    def label(value: str | None) -> str:
        if grouping is StatsGrouping.MONTH and value is not None:
            return month_label(value)
        if grouping is StatsGrouping.CRITICALITY:
            return CRITICALITY_LABELS[int(value)] if value is not None else "Not rated"
        if grouping is StatsGrouping.SERVICE:
            return services.get(value, value) if value is not None else "No service given"
        return str(value)

    ordered = sorted(groups.items(), key=lambda item: _order(grouping, item[0], item[1]))
    return StatsReport(
        overall=overall,
        group_by=grouping,
        groups=tuple(StatsGroup(value=v, label=label(v), stats=s) for v, s in ordered),
    )
