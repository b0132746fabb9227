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
    # Entries in the later of the two months compared, less those in the earlier.
    movement: int = 0

    @property
    def title(self) -> str:
        return self.name or self.label

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.rated if self.rated else None


@dataclass(frozen=True, slots=True)
class ThemeReport:
    programme: str
    built_at: str | None  # when the themes were last found (ISO), None if never
    entries: int  # in the filters
    themed: int  # of which assigned to a theme
    themes: tuple[ThemeSummary, ...]
    # The two months the movement compares (the last two complete months of the
    # period), or None when the period has fewer.
    compared: tuple[str, str] | None = None

    def movers(self, limit: int = 5) -> list[ThemeSummary]:
        """The themes that moved most between the last two months, either way."""
        moved = [t for t in self.themes if t.movement]
        return sorted(moved, key=lambda t: (-abs(t.movement), t.title))[:limit]


class ThemeNotFound(Exception):
    pass


class InvalidMerge(ValueError):
    """A theme cannot be merged into itself, into one of another programme, or in a loop."""


def compared_months(months: list[str], current: str) -> tuple[str, str] | None:
    """The last two complete months of `months` (the current month is not over)."""
    complete = [m for m in months if m < current]
    if len(complete) < 2:
        return None
    return complete[-2], complete[-1]
