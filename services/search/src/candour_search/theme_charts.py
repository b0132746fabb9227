"""Server-rendered SVG for the deep dive: a sparkline per theme and the movers chart.

Numbers only (coordinates and labels); the templates draw them, and each chart has
a table with the same figures for people who cannot see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from candour_search.theme_report import ThemeSummary

SPARK_WIDTH = 120
SPARK_HEIGHT = 28
MOVER_ROW = 26
MOVER_WIDTH = 520
MOVER_LABEL = 220


@dataclass(frozen=True, slots=True)
class Sparkline:
    points: str  # the SVG polyline's points
    last_x: float
    last_y: float
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT


def sparkline(counts: Sequence[int]) -> Sparkline | None:
    if len(counts) < 2:
        return None
    top = max(counts) or 1
    step = (SPARK_WIDTH - 4) / (len(counts) - 1)
    coords = [
        (2 + i * step, SPARK_HEIGHT - 2 - (SPARK_HEIGHT - 4) * n / top)
        for i, n in enumerate(counts)
    ]
    return Sparkline(
        points=" ".join(f"{x:.1f},{y:.1f}" for x, y in coords),
        last_x=round(coords[-1][0], 1),
        last_y=round(coords[-1][1], 1),
    )


@dataclass(frozen=True, slots=True)
class MoverBar:
    title: str
    movement: int
    y: float
    x: float
    width: float
    text_y: float


@dataclass(frozen=True, slots=True)
class MoversChart:
    width: int
    height: int
    zero_x: float
    bars: tuple[MoverBar, ...]


def movers_chart(movers: Sequence[ThemeSummary]) -> MoversChart | None:
    """Horizontal bars either side of zero: up to the right, down to the left."""
    if not movers:
        return None
    reach = max(abs(t.movement) for t in movers) or 1
    half = (MOVER_WIDTH - MOVER_LABEL) / 2
    zero = MOVER_LABEL + half
    bars = []
    for i, theme in enumerate(movers):
        length = half * abs(theme.movement) / reach
        x = zero if theme.movement > 0 else zero - length
        bars.append(
            MoverBar(
                title=theme.title,
                movement=theme.movement,
                y=i * MOVER_ROW + 4,
                x=round(x, 1),
                width=round(max(length, 1), 1),
                text_y=i * MOVER_ROW + 18,
            )
        )
    return MoversChart(
        width=MOVER_WIDTH, height=len(bars) * MOVER_ROW + 8, zero_x=zero, bars=tuple(bars)
    )
