"""The "Who listens" chart: each organisation a dot, response rate against stories.

Stories run on a log scale (a few organisations have most of them); each dot links
to its organisation's page. The table on the same page has every figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from candour_common.translatable import N_, Filled
from candour_search.response_rates import OrganisationRate

WIDTH = 640
HEIGHT = 320
LEFT = 56
BOTTOM = 40
TOP = 12
RIGHT = 16


@dataclass(frozen=True, slots=True)
class Dot:
    organisation_id: str
    label: str
    cx: float
    cy: float


@dataclass(frozen=True, slots=True)
class Tick:
    text: str
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class RateChart:
    width: int
    height: int
    left: int
    plot_bottom: float
    plot_right: float
    dots: tuple[Dot, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]


def rate_chart(
    rates: Sequence[OrganisationRate], names: Mapping[str, str] | None = None
) -> RateChart | None:
    """The chart of `rates`; each dot named from `names` (by organisation id: the Welsh
    names on a Welsh page) where it has one, else by the organisation's own name."""
    if not rates:
        return None
    most = max(r.stories for r in rates)
    top_exponent = max(1, math.ceil(math.log10(most + 1)))
    span_x = WIDTH - LEFT - RIGHT
    span_y = HEIGHT - TOP - BOTTOM

    def x(stories: int) -> float:
        return round(LEFT + span_x * math.log10(stories) / top_exponent, 1)

    def y(rate: float) -> float:
        return round(TOP + span_y * (1 - rate), 1)

    dots = tuple(
        Dot(
            organisation_id=r.organisation_id,
            label=Filled(
                N_("{name}: {stories} story, {share}% answered")
                if r.stories == 1
                else N_("{name}: {stories} stories, {share}% answered"),
                name=(names or {}).get(r.organisation_id, r.name),
                stories=r.stories,
                share=round(r.response_rate * 100),
            ),
            cx=x(max(r.stories, 1)),
            cy=y(r.response_rate),
        )
        for r in rates
    )
    x_ticks = tuple(
        Tick(f"{10**e:,}", x(10**e), HEIGHT - BOTTOM + 16) for e in range(top_exponent + 1)
    )
    y_ticks = tuple(Tick(f"{p}%", LEFT - 6, y(p / 100) + 4) for p in (0, 25, 50, 75, 100))
    return RateChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        plot_bottom=HEIGHT - BOTTOM,
        plot_right=WIDTH - RIGHT,
        dots=dots,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
    )
