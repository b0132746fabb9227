"""Small bar charts drawn server-side: geometry for an inline SVG, no JavaScript.

Pure (no I/O): the page template turns a `BarChart` into <rect>/<text> elements,
with autoescaping, so labels from the index cannot inject markup. The same numbers
are always shown in a table next to the chart for screen readers and copying.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from candour_common.translatable import N_, Filled
from candour_search.domain import MONTH_NAMES, StatsGroup

# Geometry in SVG user units; the SVG scales to the page width through its viewBox.
BAR_WIDTH = 28
BAR_GAP = 12
PLOT_HEIGHT = 120
TOP_MARGIN = 18  # room for the value above the tallest bar
BOTTOM_MARGIN = 22  # room for the label under each bar
SIDE_MARGIN = 8
MAX_MONTHS = 24


@dataclass(frozen=True, slots=True)
class ChartPoint:
    label: str  # short, under the bar ("Jun 25")
    description: str  # long, in the bar's tooltip ("June 2025")
    value: float | None  # None: nothing to draw (e.g. no response yet that month)
    text: str  # the value as people read it ("3", "50%", "5 hours")
    compact: str | None = None  # shorter text above the bar ("5h"), when `text` is long


@dataclass(frozen=True, slots=True)
class Bar:
    point: ChartPoint
    x: float
    y: float
    width: float
    height: float
    centre: float  # x of the bar's middle, for its value and label


@dataclass(frozen=True, slots=True)
class BarChart:
    width: float
    height: float
    baseline: float  # y of the x axis
    bars: tuple[Bar, ...]

    @property
    def label_y(self) -> float:
        return self.baseline + BOTTOM_MARGIN - 6


def bar_chart(points: Sequence[ChartPoint], *, scale_max: float | None = None) -> BarChart:
    """Bars proportional to the values, on a shared zero baseline.

    `scale_max` fixes the top of the scale (1.0 for shares); otherwise the largest
    value fills the plot height.
    """
    largest = max((p.value for p in points if p.value is not None), default=0.0)
    top = scale_max if scale_max is not None else largest
    baseline = TOP_MARGIN + PLOT_HEIGHT
    bars = []
    for index, point in enumerate(points):
        x = SIDE_MARGIN + index * (BAR_WIDTH + BAR_GAP)
        value = max(point.value or 0.0, 0.0)
        height = PLOT_HEIGHT * min(value / top, 1.0) if top > 0 else 0.0
        # A zero that is a real value still shows as a hairline, unlike a missing one.
        if point.value is not None and height < 1:
            height = 1.0
        bars.append(
            Bar(
                point=point,
                x=x,
                y=round(baseline - height, 2),
                width=BAR_WIDTH,
                height=round(height, 2),
                centre=x + BAR_WIDTH / 2,
            )
        )
    width = 2 * SIDE_MARGIN + max(len(points), 1) * (BAR_WIDTH + BAR_GAP) - BAR_GAP
    return BarChart(
        width=width, height=baseline + BOTTOM_MARGIN, baseline=baseline, bars=tuple(bars)
    )


def months_between(first: str, last: str) -> list[str]:
    """Every `YYYY-MM` from `first` to `last` inclusive (a month without stories is a
    zero bar, not a missing one, so the chart's time axis is honest)."""
    year, month = map(int, first.split("-"))
    end = tuple(map(int, last.split("-")))
    months = []
    while (year, month) <= end:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def filled_months(groups: Sequence[StatsGroup], *, limit: int = MAX_MONTHS) -> list[str]:
    """The months to chart: from the first to the last with stories, the newest `limit`."""
    values = sorted(g.value for g in groups if g.value is not None)
    if not values:
        return []
    return months_between(values[0], values[-1])[-limit:]


def short_month(value: str) -> str:
    """`2025-06` -> `Jun 25`."""
    year, month = value.split("-")
    return f"{MONTH_NAMES[int(month) - 1][:3]} {year[2:]}"


def compact_hours(hours: float | None) -> str | None:
    """A duration short enough to sit above a bar: `40m`, `5h`, `2.5d`."""
    if hours is None:
        return None
    if hours < 1:
        return Filled(N_("{count}m"), count=max(round(hours * 60), 1))
    if hours < 48:
        return Filled(N_("{count}h"), count=f"{round(hours, 1):g}")
    return Filled(N_("{count}d"), count=f"{round(hours / 24, 1):g}")


def hours_text(hours: float | None) -> str:
    """A duration as people say it: minutes, hours, or days."""
    if hours is None:
        return Filled(N_("no response yet"))
    if hours < 1:
        minutes = max(round(hours * 60), 1)
        one_or_more = N_("{count} minute") if minutes == 1 else N_("{count} minutes")
        return Filled(one_or_more, count=minutes)
    if hours < 48:
        rounded = round(hours, 1)
        one_or_more = N_("{count} hour") if rounded == 1 else N_("{count} hours")
        return Filled(one_or_more, count=f"{rounded:g}")
    return Filled(N_("{count} days"), count=f"{round(hours / 24, 1):g}")


def share_text(share: float | None) -> str:
    return Filled(N_("no stories")) if share is None else f"{round(share * 100)}%"
