"""How many stories a search matches, and its facets, at any size of index.

Three ways, cheapest first (counting.py decides which applies):

1. searches without words or dates: summed from search_facet_counts, exact;
2. few matches (at most EXACT_COUNT_LIMIT): counted over the index, exact;
3. many matches: counted over the smallest part of the sample (1 story in 1,024, 256 or 64)
   that holds enough matches, and scaled up: an estimate, and the answer says so.

Facet labels (organisation and service names) are the names of the newest story with
that organisation or service.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import asyncpg

from candour_common.db import Connection
from candour_common.events import CRITICALITY_LABELS, ChangeMarker
from candour_search.adapters.sql import FACET_CELLS, Params, match, names, progress_filters
from candour_search.counting import (
    COMMON_WORDS_SHARE,
    EXACT_COUNT_LIMIT,
    SAMPLE_ENOUGH,
    SAMPLE_RATE,
    SAMPLE_TIERS,
    SUMMED_BIT,
    TAG_BIT,
    Level,
    RollupPlan,
    rollup_plan,
    round_estimate,
)
from candour_search.domain import FACET_SIZE, FacetCount, Facets, SearchStories

FACETS = ("organisation", "service", "tag", "criticality")


@dataclass(frozen=True, slots=True)
class Summary:
    total: int
    facets: Facets
    estimated: bool = False
    # The words alone match a large share of the sample (see COMMON_WORDS_SHARE).
    common_words: bool = False


@dataclass(frozen=True, slots=True)
class _Counted:
    """Raw counts: the total and the top values per facet (all criticalities)."""

    total: int
    values: dict[str, list[tuple[str, int]]]
    # Over a part of the sample with words: how many stories the words alone match, and
    # how many were looked at.
    words: int | None = None
    sampled: int | None = None

    @property
    def common_words(self) -> bool:
        return bool(self.sampled) and (self.words or 0) >= COMMON_WORDS_SHARE * (self.sampled or 0)


async def search_summary(conn: Connection, query: SearchStories) -> Summary:
    plan = rollup_plan(query)
    if plan is not None:
        return await _summary(conn, await _from_rollups(conn, query, plan))
    common = False
    for number, (rate, keys_below) in enumerate(SAMPLE_TIERS):
        # The first (smallest) part also tells how common the words are.
        part = await _count(
            conn, query, table="search_sample", keys_below=keys_below, words_share=number == 0
        )
        common = common or part.common_words
        if part.total >= SAMPLE_ENOUGH:
            return replace(await _estimate(conn, part, rate), common_words=common)
    if part.total * SAMPLE_RATE <= 2 * EXACT_COUNT_LIMIT:
        # Few matches; a common word's GIN list is long, so read the filters' stories and
        # check the words on them instead.
        exact = await _count(
            conn, query, table="search_stories", limit=EXACT_COUNT_LIMIT + 1, filters_first=common
        )
        if exact.total <= EXACT_COUNT_LIMIT:
            return replace(await _summary(conn, exact), common_words=common)
    return replace(await _estimate(conn, part, SAMPLE_RATE), common_words=common)


# ---------------------------------------------------------------- rollups

CELL_PROGRESS_COLUMNS = {
    "responded": "c.responded",
    "change_planned": "c.change_planned",
    "change_made": "c.change_made",
}


def _cells(level: Level, query: SearchStories, params: Params, *, summed: bool = False) -> str:
    """The rows of the facet counts at `level` (summed over criticality, responded and
    change if `summed`: the query filters by none of those) counting what `query` selects."""
    where = [f"c.level = {int(level) | (SUMMED_BIT if summed else 0)}"]
    if query.organisation_id is not None:
        where.append(f"c.organisation_id = {params(query.organisation_id)}")
    if query.service_id is not None:
        where.append(f"c.service_id = {params(query.service_id)}")
    if query.tags and level & TAG_BIT:
        where.append(f"c.tag = {params(query.tags[0])}")
    if query.min_criticality is not None:
        where.append(f"c.criticality >= {params(query.min_criticality)}")
    if query.max_criticality is not None:
        where.append(f"c.criticality <= {params(query.max_criticality)}")
    if query.responded is not None:
        where.append(f"c.responded = {params(query.responded)}")
    if query.change is ChangeMarker.PLANNED:
        where.append("c.change_planned")
    elif query.change is ChangeMarker.MADE:
        where.append("c.change_made")
    if query.progress is not None:
        where.extend(progress_filters(query.progress, CELL_PROGRESS_COLUMNS))
    return " AND ".join(where)


async def _from_rollups(conn: Connection, query: SearchStories, plan: RollupPlan) -> _Counted:
    params = Params()
    if plan.tag is Level.TAG_PAIR:
        tags = f"""
            SELECT 'tag', c.other_tag, sum(c.stories) FROM {FACET_CELLS} c
            WHERE {_cells(plan.tag, query, params, summed=plan.summed)} GROUP BY c.other_tag
            UNION ALL
            SELECT 'tag', {params(query.tags[0])}::text, (SELECT sum(n) FROM by_criticality)
        """  # noqa: S608 - bind parameters only
    else:
        tags = f"""
            SELECT 'tag', c.tag, sum(c.stories) FROM {FACET_CELLS} c
            WHERE {_cells(plan.tag, query, params, summed=plan.summed)} GROUP BY c.tag
        """  # noqa: S608 - bind parameters only
    sql = f"""
        WITH by_criticality AS (
            SELECT c.criticality, sum(c.stories) AS n FROM {FACET_CELLS} c
            WHERE {_cells(plan.total, query, params)} GROUP BY c.criticality
        ),
        counts (facet, value, n) AS (
            SELECT 'total', NULL::text, coalesce((SELECT sum(n) FROM by_criticality), 0)
            UNION ALL
            SELECT 'criticality', criticality::text, n FROM by_criticality
            WHERE criticality IS NOT NULL
            UNION ALL
            SELECT 'organisation', c.organisation_id, sum(c.stories) FROM {FACET_CELLS} c
            WHERE {_cells(plan.organisation, query, params, summed=plan.summed)}
            GROUP BY c.organisation_id
            UNION ALL
            SELECT 'service', c.service_id, sum(c.stories) FROM {FACET_CELLS} c
            WHERE {_cells(plan.service, query, params, summed=plan.summed)}
            AND c.service_id <> ''
            GROUP BY c.service_id
            UNION ALL
            {tags}
        )
        {_top_values(params)}
    """  # noqa: S608 - every value is a bind parameter; only fixed fragments are formatted
    return _counted(await conn.fetch(sql, *params.values))


def _top_values(params: Params) -> str:
    """The end of a query over `counts (facet, value, n)`: the total, every criticality,
    the top FACET_SIZE of the other facets (by count, then value); nothing counted 0."""
    return f"""
        SELECT facet, value, n FROM (
            SELECT counts.*,
                   row_number() OVER (PARTITION BY facet ORDER BY n DESC, value) AS position
            FROM counts WHERE facet IN ('total', 'words', 'sampled') OR n > 0
        ) ranked
        WHERE facet IN ('total', 'criticality', 'words', 'sampled')
           OR position <= {params(FACET_SIZE)}
    """  # noqa: S608 - bind parameters only


def _counted(rows: Iterable[asyncpg.Record]) -> _Counted:
    total = 0
    extra: dict[str, int] = {}
    values: dict[str, list[tuple[str, int]]] = {facet: [] for facet in FACETS}
    for r in rows:
        n = int(r["n"])
        if r["facet"] == "total":
            total = n
        elif r["facet"] in ("words", "sampled"):
            extra[str(r["facet"])] = n
        else:
            values[str(r["facet"])].append((str(r["value"]), n))
    for facet in FACETS:
        values[facet].sort(key=lambda item: (-item[1], item[0]))
    return _Counted(total, values, extra.get("words"), extra.get("sampled"))


# ---------------------------------------------------------------- counting matches


async def _count(
    conn: Connection,
    query: SearchStories,
    *,
    table: str,
    keys_below: int | None = None,
    words_share: bool = False,
    limit: int | None = None,
    filters_first: bool = False,
) -> _Counted:
    """Count the matches of `query` in `table` (the index or its sample, or the part of the
    sample with keys below `keys_below`), with facets; at most `limit` of them (more means
    "too many to count here"). `words_share`: also how many stories of the part the words
    alone match, and how many the part holds. `filters_first` reads the stories the filters
    select and checks the words on them (no word index)."""
    params = Params()
    m = match(query, params, table=table)
    filters = m.filtered
    bound = f"LIMIT {params(limit)}" if limit is not None else ""
    part = f"s.sample_key < {params(keys_below)}" if keys_below is not None else None
    if words_share and m.words is not None:
        # Every story of the part: how many match the words alone tells how common they are.
        matched = f"""
            candidates AS MATERIALIZED (
                SELECT s.organisation_id, s.service_id, s.tags, s.criticality,
                       {m.words} AS worded, {m.filtered} AS selected
                FROM {m.source}
                WHERE {part or "true"}
            ),
            matched AS (SELECT * FROM candidates WHERE worded AND selected {bound}),
        """  # noqa: S608 - bind parameters only
        more_rows = """
            UNION ALL SELECT 'words', NULL, count(*) FILTER (WHERE worded) FROM candidates
            UNION ALL SELECT 'sampled', NULL, count(*) FROM candidates
        """
    elif filters_first and m.words is not None and m.filters:
        # `IS TRUE` is the same test, but no index can answer it: the filters' indexes
        # select the stories and the words are checked on each.
        matched = f"""
            matched AS MATERIALIZED (
                SELECT s.organisation_id, s.service_id, s.tags, s.criticality
                FROM {m.source}
                WHERE ({m.words}) IS TRUE AND {filters}
                {bound}
            ),
        """  # noqa: S608 - bind parameters only
        more_rows = ""
    else:
        matched = f"""
            matched AS MATERIALIZED (
                SELECT s.organisation_id, s.service_id, s.tags, s.criticality
                FROM {m.source}
                WHERE {" AND ".join(filter(None, [m.words, filters, part]))}
                {bound}
            ),
        """  # noqa: S608 - bind parameters only
        more_rows = ""
    sql = f"""
        WITH {matched}
        counts (facet, value, n) AS (
            SELECT 'total', NULL::text, count(*) FROM matched
            UNION ALL
            SELECT 'organisation', organisation_id, count(*) FROM matched GROUP BY organisation_id
            UNION ALL
            SELECT 'service', service_id, count(*) FROM matched
            WHERE service_id IS NOT NULL GROUP BY service_id
            UNION ALL
            SELECT 'tag', tag, count(*) FROM matched CROSS JOIN LATERAL unnest(matched.tags) AS tag
            GROUP BY tag
            UNION ALL
            SELECT 'criticality', criticality::text, count(*) FROM matched
            WHERE criticality IS NOT NULL GROUP BY criticality
            {more_rows}
        )
        {_top_values(params)}
    """  # noqa: S608 - every value is a bind parameter; only fixed fragments are formatted
    return _counted(await conn.fetch(sql, *params.values))


async def _estimate(conn: Connection, counted: _Counted, rate: int) -> Summary:
    """Scale counts over a sample of 1 story in `rate` up to the whole index."""
    scaled = _Counted(
        total=round_estimate(counted.total * rate, counted.total),
        values={
            facet: [(value, round_estimate(n * rate, n)) for value, n in values]
            for facet, values in counted.values.items()
        },
    )
    summary = await _summary(conn, scaled)
    return Summary(summary.total, summary.facets, estimated=True)


# ---------------------------------------------------------------- labels


async def _summary(conn: Connection, counted: _Counted) -> Summary:
    organisations = await names(
        conn, "organisation_id", "organisation_name", [v for v, _ in counted.values["organisation"]]
    )
    services = await names(
        conn, "service_id", "service_name", [v for v, _ in counted.values["service"]]
    )

    def facet(name: str, labels: dict[str, str] | None) -> tuple[FacetCount, ...]:
        out = []
        for value, n in counted.values[name]:
            if name == "criticality":
                label = CRITICALITY_LABELS[int(value)]
            elif labels is not None:
                label = labels.get(value, value)
            else:
                label = value
            out.append(FacetCount(value=value, label=label, count=n))
        return tuple(out)

    criticality = tuple(sorted(facet("criticality", None), key=lambda f: int(f.value)))
    return Summary(
        total=counted.total,
        facets=Facets(
            organisation=facet("organisation", organisations),
            service=facet("service", services),
            tag=facet("tag", None),
            # Criticality reads best on its own scale, not by count.
            criticality=criticality,
        ),
    )
