"""Programme-level insight for commissioners: how much was heard, and from how many people.

Counts published stories (the search index holds nothing else) by publication
date. One entry may speak for several people (a group session, a survey
summary): `individuals` adds up what each entry `represents`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from candour_common.events import Source
from candour_search.domain import MONTH_NAMES, InvalidQuery


@dataclass(frozen=True, slots=True)
class InsightQuery:
    published_from: date | None = None
    published_to: date | None = None
    programme: str | None = None
    organisation_id: str | None = None
    source: Source | None = None

    def __post_init__(self) -> None:
        for name in ("programme", "organisation_id"):
            value = getattr(self, name)
            if value is not None and "\x00" in value:
                raise InvalidQuery(name, "must not contain NUL characters")
        if self.published_from and self.published_to and self.published_from > self.published_to:
            raise InvalidQuery("from", "must not be after to")

    @property
    def since(self) -> datetime | None:
        if self.published_from is None:
            return None
        return datetime.combine(self.published_from, time.min, tzinfo=UTC)

    @property
    def before(self) -> datetime | None:
        if self.published_to is None or self.published_to == date.max:
            return None
        return datetime.combine(self.published_to + timedelta(days=1), time.min, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Reach:
    entries: int
    individuals: int
    patients: int
    carers: int
    staff: int

    @property
    def other(self) -> int:
        return max(0, self.individuals - self.patients - self.carers - self.staff)


@dataclass(frozen=True, slots=True)
class ReachGroup:
    value: str
    label: str
    reach: Reach


@dataclass(frozen=True, slots=True)
class InsightReport:
    query: InsightQuery
    overall: Reach  # every filter but the programme
    selected: Reach | None  # the programme's share, when one was asked for
    responded: int
    by_source: tuple[ReachGroup, ...]
    by_programme: tuple[ReachGroup, ...]
    by_month: tuple[ReachGroup, ...]

    @property
    def focus(self) -> Reach:
        return self.selected if self.selected is not None else self.overall

    @property
    def responded_share(self) -> float | None:
        return self.responded / self.focus.entries if self.focus.entries else None

    def summary(self) -> str:
        """The sentence a commissioner would put in a report."""
        period = describe_period(self.query.published_from, self.query.published_to)
        overall = self.overall
        about = (
            "feedback"
            if self.query.source is None
            else f"{source_label(self.query.source)} feedback"
        )
        entries = _plural(overall.entries, "entry", "entries")
        sentence = (
            f"{period} we received {overall.entries:,} {entries} "
            f"of {about} from {overall.individuals:,} "
            f"{_plural(overall.individuals, 'individual', 'individuals')}."
        )
        if self.selected is not None and self.query.programme is not None:
            sel = self.selected
            sentence += (
                f" The number relating specifically to {programme_label(self.query.programme)} "
                f"services was {sel.entries:,}, from {sel.individuals:,} "
                f"{_plural(sel.individuals, 'individual', 'individuals')}"
                f"{roles_in_brackets(sel)}."
            )
        return sentence


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def roles_in_brackets(reach: Reach) -> str:
    parts = [
        f"{n:,} {_plural(n, one, many)}"
        for n, one, many in (
            (reach.patients, "patient", "patients"),
            (reach.carers, "carer", "carers"),
            (reach.staff, "member of staff", "staff"),
            (reach.other, "other person", "others"),
        )
        if n
    ]
    if not parts:
        return ""
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f" ({joined})"


def programme_label(programme: str) -> str:
    return programme.replace("-", " ")


def source_label(source: Source) -> str:
    return {
        Source.NHS_WEBSITE: "NHS website",
        Source.LOCAL_GROUP: "local group",
    }.get(source, source.value.replace("_", " "))


def month_label(month: str) -> str:
    year, number = month.split("-")
    return f"{MONTH_NAMES[int(number) - 1]} {year}"


def _long_date(day: date) -> str:
    return f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}"


def describe_period(start: date | None, end: date | None) -> str:
    if start and end and start == date(start.year, 1, 1) and end == date(start.year, 12, 31):
        return f"In {start.year}"
    if start and end:
        return f"From {_long_date(start)} to {_long_date(end)}"
    if start:
        return f"Since {_long_date(start)}"
    if end:
        return f"Up to {_long_date(end)}"
    return "In all"
