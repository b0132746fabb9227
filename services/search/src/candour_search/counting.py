"""How search counts at a million stories: which counts the rollups answer exactly, and how
the rest are counted exactly when few or estimated from the sample when many.

Pure (no I/O): the SQL lives in adapters/counts.py. The tables are described in
migrations/0012_counts_and_sample.sql.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import IntEnum

from candour_search.domain import SearchStories

# Up to this many matching stories, totals and facets are counted exactly from the index;
# above it they are estimated from the sample (and the answer says so).
EXACT_COUNT_LIMIT = 1_000
# A story is in the sample with probability 1/SAMPLE_RATE. Estimates start from the
# smallest part of it that holds SAMPLE_ENOUGH matches (about 6% standard error on the
# total): (rate, sample keys below) of each part, smallest first; the last is the sample.
SAMPLE_RATE = 64
SAMPLE_TIERS = ((1_024, 1), (256, 4), (SAMPLE_RATE, 16))
SAMPLE_ENOUGH = 250
# Words matching at least this share of the stories are common: with filters, the
# filters' stories are read (newest first) and the words checked on each, rather than the
# words' long list in the GIN index intersected with the filters.
COMMON_WORDS_SHARE = 0.05
# Statistics over at most this many stories are computed exactly from the index (medians
# need every response time); over more, the counts come from the count tables and the
# medians (and counts the tables do not keep) from the sample.
STATS_EXACT_LIMIT = 10_000


class Level(IntEnum):
    """The cells of search_facet_counts: a bit per column the cell is about."""

    EVERYTHING = 0
    ORGANISATION = 1
    SERVICE = 3  # a service's cells also name its organisation
    TAG = 4
    ORGANISATION_TAG = 5
    SERVICE_TAG = 7
    TAG_PAIR = 12  # stories having both `tag` and `other_tag`


ORGANISATION_BIT = 1
SERVICE_BITS = 3
TAG_BIT = 4
# The same cells summed over criticality, responded and change.
SUMMED_BIT = 16


@dataclass(frozen=True, slots=True)
class RollupPlan:
    """The levels of search_facet_counts that answer one query's total and facets.

    The filters by organisation, service and tag select rows of each level (every level
    here has the columns they name); criticality, responded and change select rows of any
    level.
    """

    total: Level  # also the criticality facet
    organisation: Level
    service: Level
    tag: Level  # TAG_PAIR when the query filters by a tag: the tags seen with it
    # The organisation, service and tag facets read the cells summed over criticality,
    # responded and change (SUMMED_BIT): the query filters by none of them.
    summed: bool = False


def rollup_plan(query: SearchStories) -> RollupPlan | None:
    """The rollup levels answering `query` exactly, or None when they cannot: words (the
    counts know nothing of the text), publication dates (they are not kept per day), the
    language (nor is it), more than one tag, or a tag with an organisation or a service
    (tag pairs are kept for all stories only)."""
    if query.q is not None or query.published_since or query.published_before:
        return None
    if query.language is not None:  # the counts are not kept per language
        return None
    if len(query.tags) > 1:
        return None
    by_tag = bool(query.tags)
    if by_tag and (query.organisation_id is not None or query.service_id is not None):
        return None
    bits = 0
    if query.organisation_id is not None:
        bits |= ORGANISATION_BIT
    if query.service_id is not None:
        bits |= SERVICE_BITS
    if by_tag:
        bits |= TAG_BIT
    return RollupPlan(
        total=Level(bits),
        organisation=Level(bits | ORGANISATION_BIT),
        service=Level(bits | SERVICE_BITS),
        tag=Level.TAG_PAIR if by_tag else Level(bits | TAG_BIT),
        summed=(
            query.min_criticality is None
            and query.max_criticality is None
            and query.responded is None
            and query.change is None
            and query.progress is None
        ),
    )


def round_estimate(value: float, sample_matches: int) -> int:
    """An estimate rounded to the precision its sample supports: 3 significant figures
    from 1,000 sampled matches up (standard error about 3%), 2 below."""
    if value <= 0:
        return 0
    figures = 3 if sample_matches >= 1_000 else 2
    magnitude = 10 ** max(math.floor(math.log10(value)) - figures + 1, 0)
    return int(round(value / magnitude) * magnitude)


@dataclass(frozen=True, slots=True)
class MonthSpan:
    """The whole months [first, end) of a publication range [since, before), which the
    monthly counts answer; the stories of the range outside them (in partial months at its
    ends) are counted from the index. None is unbounded; `first >= end` means no whole month
    (then every story of the range is counted from the index)."""

    first: date | None
    end: date | None

    @property
    def empty(self) -> bool:
        return self.first is not None and self.end is not None and self.first >= self.end


def _month(moment: datetime) -> date:
    return moment.astimezone(UTC).date().replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def month_span(since: datetime | None, before: datetime | None) -> MonthSpan:
    first = None
    if since is not None:
        first = _month(since)
        if since > midnight(first):
            first = _next_month(first)
    end = _month(before) if before is not None else None
    return MonthSpan(first, end)


def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def months_touched(
    since: datetime | None, before: datetime | None
) -> tuple[date | None, date | None]:
    """The months [first, end) holding any moment of [since, before) (None: unbounded)."""
    first = _month(since) if since is not None else None
    end = None
    if before is not None:
        end = _month(before)
        if before > midnight(end):
            end = _next_month(end)
    return first, end
