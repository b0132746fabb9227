"""Which counts the count tables answer, estimate rounding, whole months of a date range."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from candour_common.events import ChangeMarker
from candour_search.counting import (
    Level,
    RollupPlan,
    month_span,
    months_touched,
    rollup_plan,
    round_estimate,
)
from candour_search.domain import SearchStories

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("query", "plan"),
    [
        (SearchStories(), RollupPlan(Level(0), Level(1), Level(3), Level(4), summed=True)),
        (
            SearchStories(min_criticality=2, responded=False, change=ChangeMarker.MADE),
            RollupPlan(Level(0), Level(1), Level(3), Level(4)),
        ),
        (SearchStories(max_criticality=2), RollupPlan(Level(0), Level(1), Level(3), Level(4))),
        (
            SearchStories(organisation_id="R1"),
            RollupPlan(Level(1), Level(1), Level(3), Level(5), summed=True),
        ),
        (
            SearchStories(service_id="S1", responded=True),
            RollupPlan(Level(3), Level(3), Level(3), Level(7)),
        ),
        (
            SearchStories(organisation_id="R1", service_id="S1"),
            RollupPlan(Level(3), Level(3), Level(3), Level(7), summed=True),
        ),
        (
            SearchStories(tags=("waiting",)),
            RollupPlan(Level(4), Level(5), Level(7), Level.TAG_PAIR, summed=True),
        ),
    ],
)
def test_filters_alone_are_answered_by_the_count_tables(
    query: SearchStories, plan: RollupPlan
) -> None:
    assert rollup_plan(query) == plan


@pytest.mark.parametrize(
    "query",
    [
        SearchStories(q="nurse"),
        SearchStories(published_from=date(2025, 1, 1)),
        SearchStories(published_to=date(2025, 1, 1)),
        SearchStories(tags=("waiting", "parking")),
        SearchStories(tags=("waiting",), organisation_id="R1"),
        SearchStories(tags=("waiting",), service_id="S1"),
    ],
)
def test_words_dates_and_tag_combinations_are_not(query: SearchStories) -> None:
    assert rollup_plan(query) is None


@pytest.mark.parametrize(
    ("value", "sample", "rounded"),
    [
        (0, 0, 0),
        (64, 1, 64),
        (1_280, 20, 1_300),
        (12_438, 194, 12_000),
        (12_438, 1_500, 12_400),
        (412_345, 6_400, 412_000),
        (99_950, 1_000, 100_000),
    ],
)
def test_estimates_keep_the_figures_their_sample_supports(
    value: int, sample: int, rounded: int
) -> None:
    assert round_estimate(value, sample) == rounded


def at(y: int, m: int, d: int, hour: int = 0) -> datetime:
    return datetime(y, m, d, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "before", "first", "end"),
    [
        (None, None, None, None),
        (at(2025, 3, 1), at(2025, 6, 1), date(2025, 3, 1), date(2025, 6, 1)),
        (at(2025, 3, 2), at(2025, 6, 16), date(2025, 4, 1), date(2025, 6, 1)),
        (at(2025, 12, 5), None, date(2026, 1, 1), None),
        (None, at(2025, 1, 1, 12), None, date(2025, 1, 1)),
    ],
)
def test_whole_months_of_a_range(
    since: datetime | None, before: datetime | None, first: date | None, end: date | None
) -> None:
    span = month_span(since, before)
    assert (span.first, span.end) == (first, end)
    assert not span.empty


def test_a_range_inside_one_month_has_no_whole_month() -> None:
    assert month_span(at(2025, 3, 5), at(2025, 3, 20)).empty
    assert month_span(at(2025, 3, 5), at(2025, 4, 1)).empty


@pytest.mark.parametrize(
    ("since", "before", "first", "end"),
    [
        (at(2025, 3, 5), at(2025, 3, 20), date(2025, 3, 1), date(2025, 4, 1)),
        (at(2025, 3, 1), at(2025, 4, 1), date(2025, 3, 1), date(2025, 4, 1)),
        (at(2025, 12, 31, 23), None, date(2025, 12, 1), None),
        (None, at(2026, 1, 1, 1), None, date(2026, 2, 1)),
    ],
)
def test_months_touched_by_a_range(
    since: datetime | None, before: datetime | None, first: date | None, end: date | None
) -> None:
    assert months_touched(since, before) == (first, end)
