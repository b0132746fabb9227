"""The fast ways search counts (count tables, the sample, estimates) against brute force.

A few thousand stories go through search's real handlers into a real PostgreSQL:
approvals, newer revisions that move a story to another organisation, service, tags,
criticality or month, responses (some consumed before their story), withdrawals, replays
of the same events; the count deltas are folded now and then, and some are left unfolded.
Then random filters compare what search answers with a brute-force count in Python over
every indexed story:

- the count tables hold exactly the cells of the indexed stories, and the sample exactly
  the stories whose id hashes into it;
- searches the count tables answer are exact;
- other searches are exact up to EXACT_COUNT_LIMIT matches, and above it equal to the count
  over the sample (or sub-sample) they are estimated from, scaled and rounded;
- statistics and insight equal brute force (and, over the sample, the sample's figures).
"""

from __future__ import annotations

import random
import statistics
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from candour_common.events import (
    CRITICALITY_LABELS,
    ChangeMarker,
    OrganisationRef,
    Reach,
    ServiceRef,
    Source,
    StoryApproved,
    Tags,
)
from candour_common.runtime import migrate_database
from candour_search.adapters import counts, insight_repository, stats_repository
from candour_search.adapters.sql import DAILY_CELLS, FACET_CELLS, MONTHLY_CELLS
from candour_search.bootstrap import MIGRATIONS
from candour_search.counting import (
    EXACT_COUNT_LIMIT,
    SAMPLE_ENOUGH,
    SAMPLE_RATE,
    SAMPLE_TIERS,
    rollup_plan,
    round_estimate,
)
from candour_search.domain import (
    FACET_SIZE,
    Progress,
    SearchStories,
    StatsGrouping,
    StoryStatsQuery,
    progress_of,
)
from candour_search.insight import InsightQuery
from candour_search.service_layer import handlers
from candour_search.service_layer.unit_of_work import PostgresSearchUnitOfWork
from tests.integration.search.conftest import approved, response, withdrawn

pytestmark = pytest.mark.integration

SEED = 19
STORIES = 3_000
ORGS = [OrganisationRef(id=f"R{n}", name=f"Trust {n}") for n in range(5)]
PROGRAMMES = ["mental-health", "urgent-care", None]
SERVICES = {
    org.id: [
        ServiceRef(id=f"{org.id}-S{k}", name=f"Service {k} of {org.id}", programme=PROGRAMMES[k])
        for k in range(3)
    ]
    for org in ORGS
}
TAGS = ["kind staff", "waiting", "parking", "food", "dignity", "noise", "pain relief", "access"]
WORDS = [
    "nurse",
    "nurses",
    "doctor",
    "ward",
    "waited",
    "hours",
    "kind",
    "rude",
    "car",
    "park",
    "food",
    "pain",
    "relief",
    "bus",
]
SOURCES = [Source.WEB, Source.HEALTHWATCH, Source.NHS_WEBSITE]
START = datetime(2025, 1, 1, tzinfo=UTC)
MEASURES = ("stories", "responded", "planned", "made", "individuals", "patients", "carers", "staff")
QUERIES = ["nurse", "waited hours", '"car park"', "doctor -rude", "food or bus", "pain relief"]


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def story_event(rng: random.Random, story_id: uuid.UUID, revision: int) -> StoryApproved:
    org = rng.choice(ORGS)
    service = rng.choice([*SERVICES[org.id], None])
    tags = rng.sample(TAGS, rng.randint(0, 3))
    base = approved(
        story_id=story_id,
        title=text(rng, 4),
        body=text(rng, rng.randint(5, 40)),
        organisation=org,
        service=service,
        tags=Tags(good=tags[:1], improve=tags[1:2], feelings=tags[2:]),
        criticality=rng.choice([None, 0, 1, 2, 3, 4, 5]),
        published_at=START + timedelta(minutes=rng.randint(0, 455 * 24 * 60)),
        revision=revision,
    )
    individuals = rng.randint(1, 5)
    return base.model_copy(
        update={
            "source": rng.choice(SOURCES),
            "represents": Reach(
                individuals=individuals, patients=rng.randint(0, individuals), staff=1
            ),
        }
    )


def events(rng: random.Random) -> list[Any]:
    """Approvals, revisions, responses (a tenth before their story), withdrawals, replays."""
    ids = [uuid.uuid4() for _ in range(STORIES)]
    first = {i: story_event(rng, i, 1) for i in ids}
    out: list[Any] = []
    early = set(rng.sample(ids, STORIES // 10))
    for i in early:
        out.append(response(first[i], change=rng.choice([None, "planned", "made"])))
    for i in ids:
        out.append(first[i])
    for i in rng.sample(ids, STORIES // 5):
        out.append(story_event(rng, i, 2))  # moves the story to other cells
    for i in rng.sample(ids, STORIES // 2):
        posted = first[i].published_at + timedelta(hours=rng.expovariate(1 / 30))
        out.append(
            response(first[i], posted_at=posted, change=rng.choice([None, "planned", "made"]))
        )
    for i in rng.sample(ids, STORIES // 20):
        out.append(withdrawn(first[i]))
    stale = [story_event(rng, i, 1) for i in rng.sample(ids, 50)]  # older revisions: ignored
    return out + stale


@dataclass(frozen=True)
class Row:
    story_id: uuid.UUID
    organisation_id: str
    organisation_name: str
    service_id: str | None
    service_name: str | None
    tags: tuple[str, ...]
    criticality: int | None
    responded: bool
    change_planned: bool
    change_made: bool
    published_at: datetime
    hours: float | None
    source: str
    programme: str | None
    individuals: int
    patients: int
    carers: int
    staff: int
    sample_key: int | None


@dataclass
class Index:
    pool: asyncpg.Pool
    rows: list[Row]

    async def matching_ids(self, q: str | None) -> set[uuid.UUID] | None:
        """The stories `q` matches by PostgreSQL's own text search (None: no words)."""
        if q is None:
            return None
        found = await self.pool.fetch(
            "SELECT story_id FROM search_stories"
            " WHERE document @@ websearch_to_tsquery('english', $1)",
            q,
        )
        return {r["story_id"] for r in found}


@pytest.fixture(scope="module")
async def index(postgres_server_url: str) -> AsyncIterator[Index]:
    name = f"fastcounts_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = postgres_server_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        await migrate_database(dsn, MIGRATIONS)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        assert pool is not None
        rng = random.Random(SEED)
        stream = events(rng)
        # Batches, as a rebuild applies them, then one event per transaction, as the live
        # consumers do; a few events twice (redelivery: the inbox ignores them).
        async with pool.acquire() as conn:
            position = 0
            while position < len(stream):
                size = rng.choice([1, 1, 1, 25, 100])
                async with conn.transaction():
                    for event in stream[position : position + size]:
                        await handlers.apply_event(conn, event, event_id=_event_id(event))
                position += size
                if rng.random() < 0.05:
                    await handlers.compact_counts(PostgresSearchUnitOfWork(pool, service="search"))
            for event in rng.sample(stream, 100):
                async with conn.transaction():
                    await handlers.apply_event(conn, event, event_id=_event_id(event))
            # The last changes stay unfolded: readers must count delta rows too.
            for event in stream[-(STORIES // 20) :]:
                if isinstance(event, StoryApproved):
                    async with conn.transaction():
                        await handlers.apply_event(
                            conn, response(event, change="made"), event_id=uuid.uuid4()
                        )
        assert await pool.fetchval("SELECT count(*) FROM search_facet_deltas")
        assert await pool.fetchval("SELECT count(*) FROM search_day_deltas")
        yield Index(pool, await _rows(pool))
        await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


_EVENT_IDS: dict[int, uuid.UUID] = {}


def _event_id(event: Any) -> uuid.UUID:
    """One id per event object, so applying it again is a redelivery."""
    return _EVENT_IDS.setdefault(id(event), uuid.uuid4())


async def _rows(pool: asyncpg.Pool) -> list[Row]:
    records = await pool.fetch(
        """
        SELECT story_id, organisation_id, organisation_name, service_id, service_name, tags,
               criticality, response_count > 0 AS responded, change_planned, change_made,
               published_at,
               extract(epoch FROM first_response_at - published_at) / 3600.0 AS hours,
               source, programme, individuals, patients, carers, staff,
               search_sample_key(story_id) AS sample_key
        FROM search_stories
        """
    )
    rows = [
        Row(
            **{
                **dict(r),
                "tags": tuple(r["tags"]),
                "hours": float(r["hours"]) if r["hours"] is not None else None,
            }
        )
        for r in records
    ]
    assert len(rows) > STORIES * 0.9
    return rows


# ---------------------------------------------------------------- brute force


def newest_names(rows: Iterable[Row], kind: str) -> dict[str, str]:
    best: dict[str, tuple[datetime, uuid.UUID, str]] = {}
    for r in rows:
        key = r.organisation_id if kind == "organisation" else r.service_id
        name = r.organisation_name if kind == "organisation" else r.service_name
        if key is None or name is None:
            continue
        if key not in best or (r.published_at, r.story_id) > best[key][:2]:
            best[key] = (r.published_at, r.story_id, name)
    return {k: v[2] for k, v in best.items()}


def selects(query: SearchStories, row: Row, matched: set[uuid.UUID] | None) -> bool:
    return (
        (matched is None or row.story_id in matched)
        and (query.organisation_id is None or row.organisation_id == query.organisation_id)
        and (query.service_id is None or row.service_id == query.service_id)
        and all(t in row.tags for t in query.tags)
        and (
            query.min_criticality is None
            or (row.criticality is not None and row.criticality >= query.min_criticality)
        )
        and (
            query.max_criticality is None
            or (row.criticality is not None and row.criticality <= query.max_criticality)
        )
        and (query.responded is None or row.responded == query.responded)
        and (query.change is not ChangeMarker.PLANNED or row.change_planned)
        and (query.change is not ChangeMarker.MADE or row.change_made)
        and (
            query.progress is None
            or progress_of(
                responded=row.responded,
                change_planned=row.change_planned,
                change_made=row.change_made,
            )
            is query.progress
        )
        and (query.published_since is None or row.published_at >= query.published_since)
        and (query.published_before is None or row.published_at < query.published_before)
    )


def facet_counts(rows: list[Row], names: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Total and facets as /v1/search shows them: (value, label, count), top FACET_SIZE."""

    def top(counter: Counter[str], labels: dict[str, str] | None) -> list[tuple[str, str, int]]:
        ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_SIZE]
        return [(v, labels.get(v, v) if labels is not None else v, n) for v, n in ranked]

    criticality = Counter(str(r.criticality) for r in rows if r.criticality is not None)
    return {
        "total": len(rows),
        "organisation": top(Counter(r.organisation_id for r in rows), names["organisation"]),
        "service": top(Counter(r.service_id for r in rows if r.service_id), names["service"]),
        "tag": top(Counter(t for r in rows for t in r.tags), None),
        "criticality": sorted(
            ((v, CRITICALITY_LABELS[int(v)], n) for v, n in criticality.items()),
            key=lambda f: int(f[0]),
        ),
    }


def answered(summary: counts.Summary) -> dict[str, Any]:
    f = summary.facets
    return {
        "total": summary.total,
        **{
            name: [(c.value, c.label, c.count) for c in getattr(f, name)]
            for name in ("organisation", "service", "tag", "criticality")
        },
    }


def scaled(truth: dict[str, Any], rate: int) -> dict[str, Any]:
    """What an estimate over a sample with these counts says."""
    return {
        "total": round_estimate(truth["total"] * rate, truth["total"]),
        **{
            name: [(v, label, round_estimate(n * rate, n)) for v, label, n in truth[name]]
            for name in ("organisation", "service", "tag", "criticality")
        },
    }


def random_search(rng: random.Random, *, words: bool) -> SearchStories:
    org = rng.choice(ORGS)
    tags = rng.sample(TAGS, rng.choice([0, 0, 1, 1, 2]))
    low = rng.choice([None, None, 0, 2, 4])
    since = START + timedelta(days=rng.randint(0, 400))
    return SearchStories(
        q=rng.choice(QUERIES) if words else None,
        organisation_id=org.id if rng.random() < 0.3 else None,
        service_id=rng.choice(SERVICES[org.id]).id if rng.random() < 0.2 else None,
        tags=tuple(tags),
        min_criticality=low,
        max_criticality=rng.choice([None, 5, 3]) if low is None or low <= 3 else None,
        responded=rng.choice([None, None, True, False]),
        change=rng.choice([None, None, None, ChangeMarker.PLANNED, ChangeMarker.MADE]),
        progress=rng.choice([None, None, None, *Progress]),
        published_from=since.date() if rng.random() < 0.25 else None,
        published_to=(since + timedelta(days=rng.randint(0, 120))).date()
        if rng.random() < 0.2
        else None,
    )


async def summarise(index: Index, query: SearchStories) -> counts.Summary:
    async with index.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        return await counts.search_summary(conn, query)


# ---------------------------------------------------------------- the count tables


async def test_count_tables_and_sample_hold_exactly_the_indexed_stories(index: Index) -> None:
    def cells(r: Row) -> list[tuple[Any, ...]]:
        svc = r.service_id or ""
        out: list[tuple[Any, ...]] = [
            (0, None, None, None, None),
            (1, r.organisation_id, None, None, None),
            (3, r.organisation_id, svc, None, None),
        ]
        for t in r.tags:
            out += [(4, None, None, t, None), (5, r.organisation_id, None, t, None)]
            out.append((7, r.organisation_id, svc, t, None))
            out += [(12, None, None, t, u) for u in r.tags if u != t]
        slots = (r.criticality, r.responded, r.change_planned, r.change_made)
        summed = (None, False, False, False)
        return [cell + slots for cell in out] + [(cell[0] + 16, *cell[1:], *summed) for cell in out]

    expected = Counter(cell for r in index.rows for cell in cells(r))
    stored = await index.pool.fetch(
        f"""
        SELECT level, organisation_id, service_id, tag, other_tag, criticality, responded,
               change_planned, change_made, sum(stories) AS n
        FROM {FACET_CELLS} c GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9 HAVING sum(stories) <> 0
        """
    )
    assert {tuple(r)[:-1]: int(r["n"]) for r in stored} == dict(expected)

    monthly: Counter[tuple[Any, ...]] = Counter()
    for r in index.rows:
        key = (
            r.published_at.date().replace(day=1),
            r.organisation_id,
            r.service_id or "",
            r.source,
            r.programme or "",
        )
        for measure, value in zip(
            MEASURES,
            (
                1,
                int(r.responded),
                int(r.change_planned),
                int(r.change_made),
                r.individuals,
                r.patients,
                r.carers,
                r.staff,
            ),
            strict=True,
        ):
            monthly[(*key, measure)] += value
    stored = await index.pool.fetch(
        f"""
        SELECT month, organisation_id, service_id, source, programme, sum(stories) AS stories,
               sum(responded) AS responded, sum(change_planned) AS planned,
               sum(change_made) AS made, sum(individuals) AS individuals,
               sum(patients) AS patients, sum(carers) AS carers, sum(staff) AS staff
        FROM {MONTHLY_CELLS} m GROUP BY 1, 2, 3, 4, 5
        """
    )
    got = {
        (*tuple(r)[:5], measure): int(r[measure])
        for r in stored
        for measure in MEASURES
        if int(r[measure])
    }
    assert got == {k: v for k, v in monthly.items() if v}

    daily: Counter[tuple[Any, ...]] = Counter()
    for r in index.rows:
        key = (r.published_at.date(), r.source, r.programme or "")
        daily[(*key, "stories")] += 1
        daily[(*key, "individuals")] += r.individuals
        daily[(*key, "responded")] += int(r.responded)
    stored = await index.pool.fetch(
        f"""
        SELECT day, source, programme, sum(stories) AS stories,
               sum(individuals) AS individuals, sum(responded) AS responded
        FROM {DAILY_CELLS} d GROUP BY 1, 2, 3
        """
    )
    got = {
        (*tuple(r)[:3], measure): int(r[measure])
        for r in stored
        for measure in ("stories", "individuals", "responded")
        if int(r[measure])
    }
    assert got == {k: v for k, v in daily.items() if v}

    sample = await index.pool.fetch(
        "SELECT story_id, sample_key, organisation_id, tags, response_count > 0 AS responded "
        "FROM search_sample"
    )
    assert {(r["story_id"], r["sample_key"], r["organisation_id"], tuple(r["tags"]),
             r["responded"]) for r in sample} == {
        (r.story_id, r.sample_key, r.organisation_id, r.tags, r.responded)
        for r in index.rows
        if r.sample_key is not None
    }  # fmt: skip
    assert len(sample) > 0


# ---------------------------------------------------------------- searches


def names_of(rows: list[Row]) -> dict[str, dict[str, str]]:
    return {
        "organisation": newest_names(rows, "organisation"),
        "service": newest_names(rows, "service"),
    }


async def test_filter_only_searches_count_exactly_from_the_count_tables(index: Index) -> None:
    rng = random.Random(SEED + 1)
    names = names_of(index.rows)
    checked = 0
    while checked < 150:
        query = random_search(rng, words=False)
        if rollup_plan(query) is None:
            continue
        truth = facet_counts([r for r in index.rows if selects(query, r, None)], names)
        summary = await summarise(index, query)
        assert not summary.estimated
        assert answered(summary) == truth, query
        checked += 1


@pytest.mark.parametrize(
    ("exact_limit", "enough"), [(EXACT_COUNT_LIMIT, SAMPLE_ENOUGH), (40, 10), (0, 3)]
)
async def test_other_searches_are_exact_when_few_and_the_sample_scaled_up_when_many(
    index: Index, monkeypatch: pytest.MonkeyPatch, exact_limit: int, enough: int
) -> None:
    # Smaller limits than the service's, so that a few thousand stories take every path.
    monkeypatch.setattr(counts, "EXACT_COUNT_LIMIT", exact_limit)
    monkeypatch.setattr(counts, "SAMPLE_ENOUGH", enough)
    rng = random.Random(SEED + exact_limit)
    names = names_of(index.rows)
    paths: Counter[str] = Counter()
    for n in range(120):
        query = random_search(rng, words=n % 3 != 0)
        if rollup_plan(query) is not None:
            continue
        matched = await index.matching_ids(query.q)
        chosen = [r for r in index.rows if selects(query, r, matched)]
        summary = await summarise(index, query)
        for rate, keys_below in SAMPLE_TIERS:
            part = [r for r in chosen if r.sample_key is not None and r.sample_key < keys_below]
            if len(part) >= enough:
                expected, path = scaled(facet_counts(part, names), rate), f"1 in {rate}"
                break
        else:
            if len(part) * SAMPLE_RATE > 2 * exact_limit or len(chosen) > exact_limit:
                expected, path = scaled(facet_counts(part, names), SAMPLE_RATE), "sample"
            else:
                expected, path = facet_counts(chosen, names), "exact"
        assert summary.estimated == (path != "exact"), query
        assert answered(summary) == expected, (path, query)
        paths[path] += 1
    if exact_limit > 0:
        assert paths["exact"] > 0
    if exact_limit < EXACT_COUNT_LIMIT:
        assert len(paths) >= 3, paths


# ---------------------------------------------------------------- statistics and insight


def figures(rows: list[Row]) -> tuple[int, int, float | None, int, int]:
    hours = [r.hours for r in rows if r.hours is not None]
    return (
        len(rows),
        sum(r.responded for r in rows),
        statistics.median(hours) if hours else None,
        sum(r.change_planned for r in rows),
        sum(r.change_made for r in rows),
    )


def group_values(grouping: StatsGrouping, r: Row) -> list[str | None]:
    if grouping is StatsGrouping.MONTH:
        return [r.published_at.strftime("%Y-%m")]
    if grouping is StatsGrouping.TAG:
        return list(r.tags)
    if grouping is StatsGrouping.SERVICE:
        return [r.service_id]
    return [str(r.criticality) if r.criticality is not None else None]


def random_stats(rng: random.Random) -> StoryStatsQuery:
    org = rng.choice(ORGS)
    since = (START + timedelta(days=rng.randint(0, 400))).date()
    return StoryStatsQuery(
        organisation_id=org.id if rng.random() < 0.4 else None,
        service_id=rng.choice(SERVICES[org.id]).id if rng.random() < 0.2 else None,
        published_from=since if rng.random() < 0.4 else None,
        published_to=since + timedelta(days=rng.randint(0, 150)) if rng.random() < 0.4 else None,
        group_by=rng.choice([None, *StatsGrouping]),
    )


def in_stats_scope(query: StoryStatsQuery, r: Row) -> bool:
    return (
        (query.organisation_id is None or r.organisation_id == query.organisation_id)
        and (query.service_id is None or r.service_id == query.service_id)
        and (query.published_since is None or r.published_at >= query.published_since)
        and (query.published_before is None or r.published_at < query.published_before)
    )


def close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-6)


@pytest.mark.parametrize("exact_limit", [stats_repository.STATS_EXACT_LIMIT, 0])
async def test_statistics_match_brute_force(
    index: Index, monkeypatch: pytest.MonkeyPatch, exact_limit: int
) -> None:
    # With limit 0 every report takes the large-scope path: counts from the count tables
    # (exact) or the sample (scaled), medians from the sample.
    monkeypatch.setattr(stats_repository, "STATS_EXACT_LIMIT", exact_limit)
    rng = random.Random(SEED + 2 + exact_limit)
    for _ in range(80):
        query = random_stats(rng)
        scope = [r for r in index.rows if in_stats_scope(query, r)]
        in_sample = [r for r in scope if r.sample_key is not None]
        async with index.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            report = await stats_repository.story_stats(conn, query)

        def check(got: Any, rows: list[Row], sampled: list[Row]) -> None:
            stories, responded, median, planned, made = figures(rows)
            if got.counts_are_estimates:
                s = figures(sampled)
                stories, responded, planned, made = (
                    round_estimate(n * SAMPLE_RATE, n) for n in (s[0], s[1], s[3], s[4])
                )
            if got.median_is_estimate:
                median = figures(sampled)[2]
            assert (got.stories, got.responded, got.change_planned, got.change_made) == (
                stories,
                responded,
                planned,
                made,
            ), query
            assert close(got.median_hours_to_first_response, median), query

        if exact_limit > 0:
            assert not report.overall.median_is_estimate, query
        elif scope:
            assert report.overall.median_is_estimate, query
        check(report.overall, scope, in_sample)
        if query.group_by is None:
            assert report.groups == ()
            continue
        grouping = query.group_by
        values = {v for r in scope for v in group_values(grouping, r)}
        if report.overall.counts_are_estimates:
            values = {v for r in in_sample for v in group_values(grouping, r)}
        assert {g.value for g in report.groups} == values, query
        for g in report.groups:
            check(
                g.stats,
                [r for r in scope if g.value in group_values(grouping, r)],
                [r for r in in_sample if g.value in group_values(grouping, r)],
            )


async def test_insight_matches_brute_force(index: Index) -> None:
    rng = random.Random(SEED + 3)
    for _ in range(80):
        since = (START + timedelta(days=rng.randint(0, 400))).date()
        query = InsightQuery(
            published_from=since if rng.random() < 0.5 else None,
            published_to=since + timedelta(days=rng.randint(0, 200))
            if rng.random() < 0.5
            else None,
            programme=rng.choice([None, "mental-health", "urgent-care"]),
            organisation_id=rng.choice(ORGS).id if rng.random() < 0.3 else None,
            source=rng.choice([None, None, *SOURCES]),
        )
        scope = [
            r
            for r in index.rows
            if (query.since is None or r.published_at >= query.since)
            and (query.before is None or r.published_at < query.before)
            and (query.organisation_id is None or r.organisation_id == query.organisation_id)
            and (query.source is None or r.source == query.source.value)
        ]
        chosen = [r for r in scope if query.programme is None or r.programme == query.programme]

        def reach(rows: list[Row]) -> tuple[int, ...]:
            return (
                len(rows),
                sum(r.individuals for r in rows),
                sum(r.patients for r in rows),
                sum(r.carers for r in rows),
                sum(r.staff for r in rows),
            )

        def grouped(rows: list[Row], key: Callable[[Row], str]) -> dict[str, tuple[int, ...]]:
            return {v: reach([r for r in rows if key(r) == v]) for v in {key(r) for r in rows}}

        async with index.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            report = await insight_repository.insight(conn, query)

        def got(groups: Any) -> dict[str, tuple[int, ...]]:
            return {
                g.value: (g.reach.entries, g.reach.individuals, g.reach.patients, g.reach.carers,
                          g.reach.staff)
                for g in groups
            }  # fmt: skip

        r = report.overall
        assert (r.entries, r.individuals, r.patients, r.carers, r.staff) == reach(scope), query
        assert report.responded == sum(x.responded for x in chosen), query
        assert got(report.by_source) == grouped(chosen, lambda x: x.source), query
        assert got(report.by_month) == grouped(chosen, lambda x: x.published_at.strftime("%Y-%m"))
        assert got(report.by_programme) == grouped(scope, lambda x: x.programme or "none")
        if query.programme is not None:
            assert report.selected is not None
            s = report.selected
            assert (s.entries, s.individuals, s.patients, s.carers, s.staff) == reach(chosen)
