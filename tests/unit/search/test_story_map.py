"""The story map's layout, against stories counted by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from candour_search.domain import Progress
from candour_search.story_map import MapColour, MapStory, story_map, year_start

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def story(days_ago: float, criticality: int | None, progress: Progress) -> MapStory:
    return MapStory(
        story_id=uuid.uuid4(),
        title=f"A story {days_ago} days old",
        published_at=NOW - timedelta(days=days_ago),
        criticality=criticality,
        progress=progress,
    )


# Three the same week (1-3 days ago), two a month ago, one almost a year ago.
STORIES = sorted(
    [
        story(1, 4, Progress.PUBLISHED),
        story(2, 4, Progress.RESPONDED),
        story(3, None, Progress.CHANGE_MADE),
        story(30, 1, Progress.CHANGE_PLANNED),
        story(31, 1, Progress.RESPONDED),
        story(360, 0, Progress.PUBLISHED),
    ],
    key=lambda s: s.published_at,
    reverse=True,
)


def test_one_dot_per_story_stacked_by_week_oldest_at_the_bottom() -> None:
    chart = story_map(STORIES, total=6, now=NOW, colour=MapColour.CRITICALITY)
    assert len(chart.dots) == 6
    columns: dict[float, list[float]] = {}
    for dot in chart.dots:
        columns.setdefault(dot.cx, []).append(dot.cy)
    assert sorted(len(c) for c in columns.values()) == [1, 2, 3]
    newest_week = max(columns)
    by_id = {d.story_id: d for d in chart.dots}
    ones = [by_id[s.story_id].cy for s in STORIES[:3]]  # 1, 2 and 3 days old
    assert ones == sorted(ones), "older stories sit lower (larger y) in their week"
    assert {by_id[s.story_id].cx for s in STORIES[:3]} == {newest_week}
    assert by_id[STORIES[-1].story_id].cx == min(columns), "a year ago is on the left"
    assert all(0 < d.cy < chart.axis_y for d in chart.dots)


def test_colours_and_legend_follow_the_toggle() -> None:
    by_criticality = story_map(STORIES, total=6, now=NOW, colour=MapColour.CRITICALITY)
    legend = {e.label: e.count for e in by_criticality.legend}
    assert legend["strongly critical"] == 2  # the page capitalises, in its own language
    assert legend["not rated"] == 1
    assert sum(legend.values()) == 6
    assert sorted(d.css_class for d in by_criticality.dots).count("dot--crit-1") == 2

    by_progress = story_map(STORIES, total=6, now=NOW, colour=MapColour.PROGRESS)
    assert {e.label: e.count for e in by_progress.legend} == {
        "Published": 2,
        "Responded": 2,
        "Change planned": 1,
        "Change made": 1,
    }
    assert {d.css_class for d in by_progress.dots} == {
        "dot--published",
        "dot--responded",
        "dot--change-planned",
        "dot--change-made",
    }


def test_a_busy_week_shrinks_the_dots_instead_of_growing_the_page() -> None:
    busy = [story(1 + i / 1000, 2, Progress.PUBLISHED) for i in range(400)]
    chart = story_map(busy, total=1500, now=NOW, colour=MapColour.CRITICALITY)
    assert chart.height <= 240 + 8 + 28 + 1
    assert chart.shown == 400 and chart.total == 1500
    assert chart.radius >= 1.0


def test_the_window_is_the_last_365_days() -> None:
    assert year_start(NOW) == NOW - timedelta(days=365)
    chart = story_map([], total=0, now=NOW, colour=MapColour.PROGRESS)
    assert chart.dots == () and chart.shown == 0
