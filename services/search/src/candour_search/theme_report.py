"""What the deep dive says about each theme: how big, how critical, how it moves.

A theme that a person merged into another counts as part of it. Negative means a
criticality of 3 or more (moderately to severely critical) among rated entries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

NEGATIVE_FROM = 3
QUOTES = 3


@dataclass(frozen=True, slots=True)
class Quote:
    story_id: uuid.UUID
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class ThemeSummary:
    theme_id: uuid.UUID
    label: str
    name: str | None
    terms: tuple[str, ...]
    count: int
    rated: int
    negative: int
    months: tuple[tuple[str, int], ...]  # ("2025-03", 12), oldest first, every month
    sources: tuple[tuple[str, int], ...]  # most first
    quotes: tuple[Quote, ...] = field(default=())
    merged: tuple[uuid.UUID, ...] = field(default=())  # themes merged into this one

    @property
    def title(self) -> str:
        return self.name or self.label

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.rated if self.rated else None

    @property
    def movement(self) -> int:
        """Change from the month before last to the last month with entries."""
        if len(self.months) < 2:
            return 0
        return self.months[-1][1] - self.months[-2][1]


@dataclass(frozen=True, slots=True)
class ThemeReport:
    programme: str
    built_at: str | None  # when the themes were last found (ISO), None if never
    entries: int  # in the filters
    themed: int  # of which assigned to a theme
    themes: tuple[ThemeSummary, ...]

    def movers(self, limit: int = 5) -> list[ThemeSummary]:
        """The themes that moved most between the last two months, either way."""
        moved = [t for t in self.themes if t.movement]
        return sorted(moved, key=lambda t: (-abs(t.movement), t.title))[:limit]


class ThemeNotFound(Exception):
    pass


class InvalidMerge(ValueError):
    """A theme cannot be merged into itself, into one of another programme, or in a loop."""
