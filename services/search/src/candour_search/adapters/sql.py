"""SQL building shared by search's read queries: bind parameters and the WHERE clause of a
search (over the index, or over its sample, which has the same columns)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from candour_common.db import Connection
from candour_common.events import ChangeMarker, StoryLanguage
from candour_search.counting import MonthSpan, midnight
from candour_search.domain import PROGRESS_CONDITIONS, Progress, SearchStories

_FACET_COLUMNS = (
    "level, organisation_id, service_id, tag, other_tag, criticality, responded, "
    "change_planned, change_made, stories"
)
_MEASURES = "stories, responded, change_planned, change_made, individuals, patients, carers, staff"
# The count tables as readers see them: the deltas not yet folded and the folded counts
# (migration 0012); conditions on the alias are pushed into both. Deltas first: the lock
# order of index_tables.INDEX_TABLES.
FACET_CELLS = (
    f"(SELECT {_FACET_COLUMNS} FROM search_facet_deltas"  # noqa: S608 - fixed names
    f" UNION ALL SELECT {_FACET_COLUMNS} FROM search_facet_counts)"
)
MONTHLY_CELLS = (
    "(SELECT date_trunc('month', day::timestamp)::date AS month, organisation_id, "  # noqa: S608 - fixed names
    f"service_id, source, programme, {_MEASURES} FROM search_day_deltas"
    " UNION ALL SELECT month, organisation_id, service_id, source, programme, "
    f"{_MEASURES} FROM search_monthly_counts)"
)
DAILY_CELLS = (
    f"(SELECT day, source, programme, {_MEASURES} FROM search_day_deltas"  # noqa: S608 - fixed names
    f" UNION ALL SELECT day, source, programme, {_MEASURES} FROM search_daily_counts)"
)


# The text search configuration of each language's stories (migration 0031): English
# stemming for English, the simple dictionary (no stemming) for Welsh.
TEXT_CONFIGS = {StoryLanguage.ENGLISH: "english", StoryLanguage.WELSH: "candour_welsh"}


class Params:
    """Collects query arguments and hands out their `$n` placeholders."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


@dataclass(frozen=True, slots=True)
class Matching:
    """What selects the stories a search matches: FROM `source` (the table as `s`, and the
    parsed words as `tsq`; in both languages also each language's form, `tsq_en` and
    `tsq_cy`), the word condition and the filter conditions."""

    source: str
    words: str | None
    filters: list[str]
    q: str | None  # the placeholder of the words
    # The words as a tsquery for the story `s` (in its language's configuration): for
    # ranking and snippets; None without words.
    story_words: str | None = None

    @property
    def where(self) -> str:
        return " AND ".join([*([self.words] if self.words else []), *self.filters]) or "true"

    @property
    def filtered(self) -> str:
        return " AND ".join(self.filters) or "true"


def match(query: SearchStories, params: Params, *, table: str = "search_stories") -> Matching:
    """How `query` selects stories from `table` (the index or its sample), before paging."""
    source = f"{table} s"
    words = q = story_words = None
    if query.q is not None:
        q = params(query.q)
        if query.language is not None:
            # One language: every story's document is in that language's configuration.
            source += f", websearch_to_tsquery('{TEXT_CONFIGS[query.language]}', {q}) AS tsq"
            words, story_words = "s.document @@ tsq", "tsq"
        else:
            # Each story answers to its own language's form of the words only, in one
            # tsquery (migration 0031); the forms themselves rank and mark the snippets.
            source += (
                f", search_words_any_language({q}) AS tsq"
                f", websearch_to_tsquery('{TEXT_CONFIGS[StoryLanguage.ENGLISH]}', {q}) AS tsq_en"
                f", websearch_to_tsquery('{TEXT_CONFIGS[StoryLanguage.WELSH]}', {q}) AS tsq_cy"
            )
            words = "s.document @@ tsq"
            story_words = "CASE WHEN s.language = 'cy' THEN tsq_cy ELSE tsq_en END"
    filters: list[str] = []
    if query.language is not None:
        filters.append(f"s.language = {params(query.language.value)}")
    if query.organisation_id is not None:
        filters.append(f"s.organisation_id = {params(query.organisation_id)}")
    if query.service_id is not None:
        filters.append(f"s.service_id = {params(query.service_id)}")
    if query.tags:
        filters.append(f"s.tags @> {params(list(query.tags))}::text[]")
    if query.min_criticality is not None:
        filters.append(f"s.criticality >= {params(query.min_criticality)}")
    if query.max_criticality is not None:
        filters.append(f"s.criticality <= {params(query.max_criticality)}")
    if query.responded is not None:
        filters.append(f"(s.response_count > 0) = {params(query.responded)}")
    if query.change is ChangeMarker.PLANNED:
        filters.append("s.change_planned")
    elif query.change is ChangeMarker.MADE:
        filters.append("s.change_made")
    if query.progress is not None:
        filters.extend(progress_filters(query.progress, STORY_PROGRESS_COLUMNS))
    if query.published_since is not None:
        filters.append(f"s.published_at >= {params(query.published_since)}")
    if query.published_before is not None:
        filters.append(f"s.published_at < {params(query.published_before)}")
    return Matching(source, words, filters, q, story_words)


# The index's expression for each column a progress condition names.
STORY_PROGRESS_COLUMNS = {
    "responded": "(s.response_count > 0)",
    "change_planned": "s.change_planned",
    "change_made": "s.change_made",
}


def progress_filters(progress: Progress, columns: dict[str, str]) -> list[str]:
    """SQL conditions selecting stories at `progress`, over `columns` (the index's or the
    count tables' expressions for responded, change_planned and change_made)."""
    return [
        columns[name] if wanted else f"NOT {columns[name]}"
        for name, wanted in PROGRESS_CONDITIONS[progress].items()
    ]


def matching(
    query: SearchStories, params: Params, *, table: str = "search_stories"
) -> tuple[str, str, str | None]:
    """The FROM and WHERE clauses selecting the stories `query` matches (before paging),
    and the placeholder of `q` if there is one."""
    m = match(query, params, table=table)
    return m.source, m.where, m.q


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


def whole_months(span: MonthSpan, params: Params) -> list[str]:
    """The rows of the monthly counts (as `m`) in the whole months of `span`."""
    where = []
    if span.first is not None:
        where.append(f"m.month >= {params(span.first)}::date")
    if span.end is not None:
        where.append(f"m.month < {params(span.end)}::date")
    return where


def outside_whole_months(span: MonthSpan, params: Params) -> str:
    """The stories of the index (as `s`) published outside the whole months of `span`:
    with the range's own bounds, those of its partial months."""
    whole = []
    if span.first is not None:
        whole.append(f"s.published_at >= {params(midnight(span.first))}")
    if span.end is not None:
        whole.append(f"s.published_at < {params(midnight(span.end))}")
    return f"NOT ({' AND '.join(whole) or 'true'})"
