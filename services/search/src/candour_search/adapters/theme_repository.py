"""asyncpg persistence of themes: what a rebuild found, names and merges people gave,
and the figures of the deep dive."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from candour_common.db import Connection
from candour_search.charts import months_between
from candour_search.insight import InsightQuery
from candour_search.theme_report import (
    NEGATIVE_FROM,
    QUOTES,
    InvalidMerge,
    Quote,
    ThemeNotFound,
    ThemeReport,
    ThemeSummary,
    compared_months,
)

QUOTE_LENGTH = 280


@dataclass(frozen=True, slots=True)
class StoredTheme:
    theme_id: uuid.UUID
    programme: str
    label: str
    name: str | None
    terms: tuple[str, ...]
    merged_into: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class FoundTheme:
    """A theme as a rebuild stores it: its id (a carried-on one keeps its old id)."""

    theme_id: uuid.UUID
    label: str
    terms: tuple[str, ...]
    size: int


# Every filter of the insight query: $2 since, $3 before, $4 organisation, $5 source.
_FILTERS = """
    s.programme IS NOT DISTINCT FROM nullif($1::text, '')
    AND ($2::timestamptz IS NULL OR s.published_at >= $2)
    AND ($3::timestamptz IS NULL OR s.published_at < $3)
    AND ($4::text IS NULL OR s.organisation_id = $4)
    AND ($5::text IS NULL OR s.source = $5)
"""


class ThemeRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # -- rebuilds -------------------------------------------------------------------

    async def programmes(self) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT DISTINCT coalesce(programme, '') AS p FROM search_stories ORDER BY 1"
        )
        return [r["p"] for r in rows]

    async def entries(self, programme: str) -> list[tuple[uuid.UUID, str]]:
        """Every published entry of the programme: its id and its words (title, story)."""
        rows = await self._conn.fetch(
            """
            SELECT story_id, title || E'.\\n' || body AS text FROM search_stories
            WHERE programme IS NOT DISTINCT FROM nullif($1::text, '')
            ORDER BY story_id
            """,
            programme,
        )
        return [(r["story_id"], r["text"]) for r in rows]

    async def current(self, programme: str) -> list[StoredTheme]:
        rows = await self._conn.fetch(
            """
            SELECT theme_id, programme, label, name, terms, merged_into FROM insight_themes
            WHERE programme = $1 AND current ORDER BY theme_id
            """,
            programme,
        )
        return [_stored(r) for r in rows]

    async def get(self, theme_id: uuid.UUID) -> StoredTheme:
        row = await self._conn.fetchrow(
            "SELECT theme_id, programme, label, name, terms, merged_into FROM insight_themes"
            " WHERE theme_id = $1",
            theme_id,
        )
        if row is None:
            raise ThemeNotFound(theme_id)
        return _stored(row)

    async def replace(
        self,
        programme: str,
        themes: Sequence[FoundTheme],
        assignments: Sequence[tuple[uuid.UUID, uuid.UUID, float]],
        *,
        started_at: datetime,
        built_at: datetime,
    ) -> None:
        """What a rebuild found becomes current: carried-on themes keep their rows (and
        names and merges), the others are no longer current; every entry of the
        programme gets its new theme (one COPY)."""
        keep = [t.theme_id for t in themes]
        await self._conn.execute(
            "UPDATE insight_themes SET current = false"
            " WHERE programme = $1 AND current AND NOT theme_id = ANY($2::uuid[])",
            programme,
            keep,
        )
        await self._conn.executemany(
            """
            INSERT INTO insight_themes (theme_id, programme, label, terms, size, built_at)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (theme_id) DO UPDATE
            SET label = EXCLUDED.label, terms = EXCLUDED.terms, size = EXCLUDED.size,
                built_at = EXCLUDED.built_at, current = true
            """,
            [(t.theme_id, programme, t.label, list(t.terms), t.size, built_at) for t in themes],
        )
        await self._conn.execute(
            """
            DELETE FROM insight_story_themes st USING insight_themes t
            WHERE st.theme_id = t.theme_id AND t.programme = $1
            """,
            programme,
        )
        await self._conn.copy_records_to_table(
            "insight_story_themes",
            records=assignments,
            columns=("story_id", "theme_id", "weight"),
        )
        # An entry withdrawn while the finder ran has already left search_stories.
        await self._conn.execute(
            """
            DELETE FROM insight_story_themes st
            WHERE st.theme_id = ANY($1::uuid[])
              AND NOT EXISTS (SELECT 1 FROM search_stories s WHERE s.story_id = st.story_id)
            """,
            keep,
        )
        await self._conn.execute(
            "INSERT INTO insight_theme_runs (programme, started_at, finished_at, entries, themes)"
            " VALUES ($1, $2, $3, $4, $5)",
            programme,
            started_at,
            built_at,
            len(assignments),
            len(themes),
        )

    async def last_run(self) -> datetime | None:
        value: datetime | None = await self._conn.fetchval(
            "SELECT max(finished_at) FROM insight_theme_runs"
        )
        return value

    async def forget_story(self, story_id: uuid.UUID) -> None:
        await self._conn.execute("DELETE FROM insight_story_themes WHERE story_id = $1", story_id)

    # -- what people change -----------------------------------------------------------

    async def rename(self, theme_id: uuid.UUID, name: str | None) -> None:
        await self.get(theme_id)
        await self._conn.execute(
            "UPDATE insight_themes SET name = $2 WHERE theme_id = $1", theme_id, name
        )

    async def merge(self, theme_id: uuid.UUID, into: uuid.UUID) -> None:
        theme, target = await self.get(theme_id), await self.get(into)
        if theme.theme_id == target.theme_id or theme.programme != target.programme:
            raise InvalidMerge("a theme merges into another theme of the same programme")
        # Follow the target's own merges: merging into a theme that ends up in this one
        # would be a loop.
        seen = {theme.theme_id}
        current: StoredTheme | None = target
        while current is not None:
            if current.theme_id in seen:
                raise InvalidMerge("that merge would make a loop")
            seen.add(current.theme_id)
            current = await self.get(current.merged_into) if current.merged_into else None
        await self._conn.execute(
            "UPDATE insight_themes SET merged_into = $2 WHERE theme_id = $1", theme_id, into
        )

    async def unmerge(self, theme_id: uuid.UUID) -> None:
        await self.get(theme_id)
        await self._conn.execute(
            "UPDATE insight_themes SET merged_into = NULL WHERE theme_id = $1", theme_id
        )

    # -- the deep dive ----------------------------------------------------------------

    async def report(self, query: InsightQuery) -> ThemeReport:
        programme = query.programme or ""
        args = (
            programme,
            query.since,
            query.before,
            query.organisation_id,
            query.source.value if query.source else None,
        )
        themes = {
            t.theme_id: t
            for t in [
                _stored(r)
                for r in await self._conn.fetch(
                    "SELECT theme_id, programme, label, name, terms, merged_into"
                    " FROM insight_themes WHERE programme = $1",
                    programme,
                )
            ]
        }

        def root(theme_id: uuid.UUID) -> uuid.UUID:
            seen: set[uuid.UUID] = set()
            while (parent := themes[theme_id].merged_into) is not None and theme_id not in seen:
                seen.add(theme_id)
                theme_id = parent
            return theme_id

        rows = await self._conn.fetch(
            f"""
            SELECT st.theme_id, to_char(s.published_at, 'YYYY-MM') AS month, s.source,
                   count(*)::int AS n,
                   count(s.criticality)::int AS rated,
                   count(*) FILTER (WHERE s.criticality >= {NEGATIVE_FROM})::int AS negative
            FROM search_stories s JOIN insight_story_themes st USING (story_id)
            WHERE {_FILTERS}
            GROUP BY 1, 2, 3
            """,  # noqa: S608 - constants only
            *args,
        )
        totals = await self._conn.fetchrow(
            f"""
            SELECT count(*)::int AS entries, count(st.story_id)::int AS themed,
                   min(to_char(s.published_at, 'YYYY-MM')) AS first,
                   max(to_char(s.published_at, 'YYYY-MM')) AS last
            FROM search_stories s LEFT JOIN insight_story_themes st USING (story_id)
            WHERE {_FILTERS}
            """,  # noqa: S608 - constants only
            *args,
        )
        assert totals is not None
        months = months_between(totals["first"], totals["last"]) if totals["first"] else []
        compared = compared_months(months, datetime.now(UTC).strftime("%Y-%m"))
        count: dict[uuid.UUID, int] = defaultdict(int)
        rated: dict[uuid.UUID, int] = defaultdict(int)
        negative: dict[uuid.UUID, int] = defaultdict(int)
        by_month: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        by_source: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for r in rows:
            if r["theme_id"] not in themes:
                continue
            key = root(r["theme_id"])
            count[key] += r["n"]
            rated[key] += r["rated"]
            negative[key] += r["negative"]
            by_month[key][r["month"]] += r["n"]
            by_source[key][r["source"]] += r["n"]
        shown = [t for t in themes.values() if t.merged_into is None and count.get(t.theme_id)]
        quotes = await self._quotes(
            {t.theme_id: [m for m in themes if root(m) == t.theme_id] for t in shown}, args
        )
        built = await self._conn.fetchval(
            "SELECT max(finished_at) FROM insight_theme_runs WHERE programme = $1", programme
        )
        summaries = [
            ThemeSummary(
                theme_id=t.theme_id,
                label=t.label,
                name=t.name,
                terms=t.terms,
                count=count[t.theme_id],
                rated=rated[t.theme_id],
                negative=negative[t.theme_id],
                months=tuple((m, by_month[t.theme_id].get(m, 0)) for m in months),
                sources=tuple(
                    sorted(by_source[t.theme_id].items(), key=lambda kv: (-kv[1], kv[0]))
                ),
                quotes=tuple(quotes.get(t.theme_id, ())),
                merged=tuple(m for m in themes if m != t.theme_id and root(m) == t.theme_id),
                movement=(
                    by_month[t.theme_id].get(compared[1], 0)
                    - by_month[t.theme_id].get(compared[0], 0)
                    if compared
                    else 0
                ),
            )
            for t in shown
        ]
        summaries.sort(key=lambda s: (-s.count, s.title))
        return ThemeReport(
            programme=programme,
            built_at=built.isoformat() if built else None,
            entries=totals["entries"],
            themed=totals["themed"],
            themes=tuple(summaries),
            compared=compared,
        )

    async def _quotes(
        self, members: dict[uuid.UUID, list[uuid.UUID]], args: tuple[object, ...]
    ) -> dict[uuid.UUID, list[Quote]]:
        """The entries that lean on each theme most, in the filters: published text only."""
        if not members:
            return {}
        owner = {m: theme for theme, ms in members.items() for m in ms}
        rows = await self._conn.fetch(
            f"""
            SELECT theme_id, story_id, title, left(body, {QUOTE_LENGTH + 1}) AS text FROM (
                SELECT st.theme_id, s.story_id, s.title, s.body,
                       row_number() OVER (PARTITION BY st.theme_id
                                          ORDER BY st.weight DESC, s.story_id) AS rank
                FROM search_stories s JOIN insight_story_themes st USING (story_id)
                WHERE {_FILTERS} AND st.theme_id = ANY($6::uuid[])
            ) ranked WHERE rank <= {QUOTES}
            ORDER BY theme_id, rank
            """,  # noqa: S608 - constants only
            *args,
            list(owner),
        )
        quotes: dict[uuid.UUID, list[Quote]] = defaultdict(list)
        for r in rows:
            theme = owner[r["theme_id"]]
            if len(quotes[theme]) < QUOTES:
                quotes[theme].append(Quote(r["story_id"], r["title"], _trim(r["text"])))
        return quotes


def _movement(counts: dict[str, int], compared: tuple[str, str] | None) -> int:
    if compared is None:
        return 0
    earlier, later = compared
    return counts.get(later, 0) - counts.get(earlier, 0)


def _trim(text: str) -> str:
    if len(text) <= QUOTE_LENGTH:
        return text
    cut = text[:QUOTE_LENGTH].rsplit(" ", 1)[0]
    return cut.rstrip(",.;:") + "…"


def _stored(row: asyncpg.Record) -> StoredTheme:
    return StoredTheme(
        theme_id=row["theme_id"],
        programme=row["programme"],
        label=row["label"],
        name=row["name"],
        terms=tuple(row["terms"]),
        merged_into=row["merged_into"],
    )
