"""An organisation's "story map": each story of the last year a dot, by week published.

Weeks run left to right (the oldest first), a week's stories stack upwards, newest on
top, and each dot is coloured by how critical the story is or by where it stands
(published, responded, change planned, change made). Each dot links to its story;
the page gives the same stories as a table for screen readers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from candour_common.events import CRITICALITY_LABELS
from candour_common.translatable import N_, Filled
from candour_common.web.dates import DateInWords
from candour_search.domain import PROGRESS_LABELS, Progress

WEEKS = 53  # a year, and the week it started in
WIDTH = 640
LEFT = 8
RIGHT = 8
TOP = 8
BOTTOM = 28
MAX_PLOT_HEIGHT = 240
MAX_STEP = 10.0  # vertical distance between stacked dots, at most
# The newest this many stories of the year are drawn; the caption says so when there
# are more (a dot per story stops being readable well before that).
MAP_LIMIT = 1_000


class MapColour(StrEnum):
    CRITICALITY = "criticality"
    PROGRESS = "progress"


# The stages as a dot's label says them, mid-sentence.
PROGRESS_IN_A_SENTENCE = {
    Progress.PUBLISHED: N_("published"),
    Progress.RESPONDED: N_("responded"),
    Progress.CHANGE_PLANNED: N_("change planned"),
    Progress.CHANGE_MADE: N_("change made"),
}
MAP_COLOUR_LABELS = {
    MapColour.CRITICALITY: N_("how critical"),
    MapColour.PROGRESS: N_("progress"),
}


@dataclass(frozen=True, slots=True)
class MapStory:
    story_id: UUID
    title: str
    published_at: datetime
    criticality: int | None
    progress: Progress


@dataclass(frozen=True, slots=True)
class MapDot:
    story_id: UUID
    cx: float
    cy: float
    css_class: str
    label: str


@dataclass(frozen=True, slots=True)
class LegendEntry:
    css_class: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class MapTick:
    text: str
    x: float


@dataclass(frozen=True, slots=True)
class StoryMap:
    width: int
    height: int
    radius: float
    axis_y: float
    dots: tuple[MapDot, ...]
    ticks: tuple[MapTick, ...]
    legend: tuple[LegendEntry, ...]
    colour: MapColour
    shown: int
    total: int
    since: datetime
    stories: tuple[MapStory, ...]  # newest first, for the table


def criticality_class(criticality: int | None) -> str:
    return "dot--unrated" if criticality is None else f"dot--crit-{criticality}"


def progress_class(progress: Progress) -> str:
    return f"dot--{progress.value.replace('_', '-')}"


def _legend(stories: Sequence[MapStory], colour: MapColour) -> tuple[LegendEntry, ...]:
    counts: dict[str, int] = defaultdict(int)
    if colour is MapColour.PROGRESS:
        for s in stories:
            counts[progress_class(s.progress)] += 1
        return tuple(
            LegendEntry(progress_class(p), PROGRESS_LABELS[p], counts[progress_class(p)])
            for p in Progress
        )
    for s in stories:
        counts[criticality_class(s.criticality)] += 1
    entries = [
        LegendEntry(criticality_class(level), label, counts[criticality_class(level)])
        for level, label in sorted(CRITICALITY_LABELS.items())
    ]
    entries.append(LegendEntry("dot--unrated", N_("not rated"), counts["dot--unrated"]))
    return tuple(entries)


def year_start(now: datetime) -> datetime:
    """The start of the map's window: the same moment a year (365 days) ago."""
    return now.astimezone(UTC) - timedelta(days=365)


def story_map(
    stories: Sequence[MapStory], *, total: int, now: datetime, colour: MapColour
) -> StoryMap:
    """Lay out `stories` (those published since `year_start(now)`, newest first; `total`
    is how many there are in all)."""
    since = year_start(now)
    first_monday = (since - timedelta(days=since.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    column_width = (WIDTH - LEFT - RIGHT) / WEEKS

    weeks: dict[int, list[MapStory]] = defaultdict(list)
    for s in stories:
        week = min(WEEKS - 1, max(0, (s.published_at - first_monday).days // 7))
        weeks[week].append(s)
    tallest = max((len(v) for v in weeks.values()), default=1)
    step = min(MAX_STEP, MAX_PLOT_HEIGHT / tallest)
    radius = round(max(1.0, min(column_width, step) * 0.42), 2)
    plot_height = max(step * tallest, 4 * MAX_STEP)
    axis_y = TOP + plot_height
    height = round(axis_y + BOTTOM)

    dots: list[MapDot] = []
    for week, members in sorted(weeks.items()):
        cx = round(LEFT + column_width * (week + 0.5), 2)
        # Oldest at the bottom of the stack.
        for i, s in enumerate(sorted(members, key=lambda m: (m.published_at, str(m.story_id)))):
            css = (
                progress_class(s.progress)
                if colour is MapColour.PROGRESS
                else criticality_class(s.criticality)
            )
            critical = Filled(
                CRITICALITY_LABELS[s.criticality] if s.criticality is not None else N_("not rated")
            )
            dots.append(
                MapDot(
                    story_id=s.story_id,
                    cx=cx,
                    cy=round(axis_y - step * (i + 0.5), 2),
                    css_class=css,
                    label=Filled(
                        N_("{title} ({published}; {criticality}; {progress})"),
                        title=s.title,
                        published=DateInWords(s.published_at.date(), "d MMMM y"),
                        criticality=critical,
                        progress=Filled(PROGRESS_IN_A_SENTENCE[s.progress]),
                    ),
                )
            )

    ticks: list[MapTick] = []
    for week in range(WEEKS):
        monday = first_monday + timedelta(weeks=week)
        # A label at the first week of each quarter's first month keeps them apart.
        if monday.day <= 7 and monday.month in (1, 4, 7, 10):
            ticks.append(
                MapTick(DateInWords(monday.date(), "MMM y"), round(LEFT + column_width * week, 2))
            )
    return StoryMap(
        width=WIDTH,
        height=height,
        radius=radius,
        axis_y=round(axis_y, 2),
        dots=tuple(dots),
        ticks=tuple(ticks),
        legend=_legend(stories, colour),
        colour=colour,
        shown=len(stories),
        total=total,
        since=since,
        stories=tuple(stories),
    )
