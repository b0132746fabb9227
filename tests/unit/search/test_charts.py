"""The server-side bar charts of the organisation page (pure geometry and wording)."""

from __future__ import annotations

import pytest

from candour_search import charts
from candour_search.domain import StatsGroup, StoryStats

pytestmark = pytest.mark.unit


def point(value: float | None) -> charts.ChartPoint:
    return charts.ChartPoint("Jun 25", "June 2025", value, str(value))


def test_bars_are_proportional_on_one_baseline() -> None:
    chart = charts.bar_chart([point(2), point(4), point(None), point(0)])
    tall, short = chart.bars[1], chart.bars[0]
    assert tall.height == charts.PLOT_HEIGHT
    assert short.height == charts.PLOT_HEIGHT / 2
    assert {b.y + b.height for b in chart.bars} == {chart.baseline}
    assert chart.bars[2].height == 0  # missing: nothing drawn
    assert chart.bars[3].height == 1  # a real zero: a hairline
    assert chart.bars[1].x - chart.bars[0].x == charts.BAR_WIDTH + charts.BAR_GAP


def test_a_fixed_scale_caps_the_bars() -> None:
    chart = charts.bar_chart([point(0.5), point(1.0)], scale_max=1.0)
    assert [b.height for b in chart.bars] == [charts.PLOT_HEIGHT / 2, charts.PLOT_HEIGHT]


def test_an_empty_chart_has_a_size() -> None:
    chart = charts.bar_chart([])
    assert chart.bars == ()
    assert chart.width > 0


def test_months_fill_gaps_and_cross_years() -> None:
    assert charts.months_between("2024-11", "2025-02") == [
        "2024-11",
        "2024-12",
        "2025-01",
        "2025-02",
    ]
    stats = StoryStats(
        stories=1, responded=0, median_hours_to_first_response=None, change_planned=0, change_made=0
    )
    groups = [StatsGroup(v, v, stats) for v in ("2025-06", "2025-03")]
    assert charts.filled_months(groups) == ["2025-03", "2025-04", "2025-05", "2025-06"]
    assert charts.filled_months(groups, limit=2) == ["2025-05", "2025-06"]
    assert charts.filled_months([]) == []


@pytest.mark.parametrize(
    ("hours", "text", "compact"),
    [
        (None, "no response yet", None),
        (0.25, "15 minutes", "15m"),
        (1.0, "1 hour", "1h"),
        (5.0, "5 hours", "5h"),
        (30.25, "30.2 hours", "30.2h"),
        (60.0, "2.5 days", "2.5d"),
    ],
)
def test_durations_read_naturally(hours: float | None, text: str, compact: str | None) -> None:
    assert charts.hours_text(hours) == text
    assert charts.compact_hours(hours) == compact


def test_labels() -> None:
    assert charts.short_month("2025-06") == "Jun 25"
    assert charts.share_text(0.5) == "50%"
    assert charts.share_text(None) == "no stories"
