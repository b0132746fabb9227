"""Who listens: each organisation's published stories of a recent period, how many it
answered and how fast, and the changes its answers promised or made."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

PERIODS = (30, 90, 365)


class RateSort(StrEnum):
    ORGANISATION_ID = "organisation_id"
    NAME = "name"
    STORIES = "stories"
    RESPONDED = "responded"
    RESPONSE_RATE = "response_rate"
    MEDIAN_HOURS = "median_hours_to_first_response"
    CHANGES_PLANNED = "changes_planned"
    CHANGES_MADE = "changes_made"


@dataclass(frozen=True, slots=True)
class OrganisationRate:
    organisation_id: str
    name: str
    stories: int
    responded: int
    median_hours_to_first_response: float | None
    changes_planned: int
    changes_made: int

    @property
    def response_rate(self) -> float:
        return self.responded / self.stories if self.stories else 0.0


def sort_rates(
    rates: Sequence[OrganisationRate], by: RateSort, *, descending: bool
) -> list[OrganisationRate]:
    """Sorted by one field; organisations without a value (no response yet, so no
    median) always come last, whichever the direction; ties by name."""
    key = by.value

    def value(rate: OrganisationRate) -> object:
        return getattr(rate, key)

    present = [r for r in rates if value(r) is not None]
    missing = sorted((r for r in rates if value(r) is None), key=lambda r: r.name.lower())
    if key in ("name", "organisation_id"):
        ordered = sorted(present, key=lambda r: str(value(r)).lower(), reverse=descending)
    else:
        by_name = sorted(present, key=lambda r: r.name.lower())
        ordered = sorted(by_name, key=value, reverse=descending)  # type: ignore[arg-type]
    return ordered + missing
