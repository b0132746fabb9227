"""Dates and times as people in the UK read them, for every page and email.

Dates in words ("1 March 2025", "March 2025"), times on the UK clock (Europe/London,
so GMT in winter and BST in summer, named after the time). Babel does the wording
from CLDR data, so a Welsh page gets "Mawrth 2025" by passing its locale.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from candour_common.translatable import Gettext, Localisable

UK = ZoneInfo("Europe/London")
LOCALE = "en_GB"
_YEAR_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _instant(moment: datetime | str) -> datetime:
    """A datetime from a datetime or an ISO 8601 string (events carry strings);
    a naive value is taken as UTC, as everything Candour stores is."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def uk_time(moment: datetime | str | None, locale: str = LOCALE) -> str:
    """`1 July 2025, 3:05pm BST`: the UK clock at that moment, and which clock it is."""
    if moment is None or moment == "":
        return ""
    instant = _instant(moment)
    if not locale.startswith("cy"):
        return format_datetime(instant, "d MMMM y, h:mma z", tzinfo=UK, locale=locale)
    # CLDR has no Welsh name for the UK clocks (it gives "+0100") and says AM/PM: Welsh
    # writes "yb"/"yh" and keeps GMT and BST.
    local = instant.astimezone(UK)
    words = format_datetime(instant, "d MMMM y, h:mm", tzinfo=UK, locale=locale)
    zone = format_datetime(instant, "z", tzinfo=UK, locale=LOCALE)
    return f"{words}{'yb' if local.hour < 12 else 'yh'} {zone}"


def uk_date(moment: datetime | date | str | None, locale: str = LOCALE) -> str:
    """`1 March 2025`: the day in the UK (a moment late on a summer evening in UTC is
    already the next day in London)."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, date) and not isinstance(moment, datetime):
        return format_date(moment, "d MMMM y", locale=locale)
    day = _instant(moment).astimezone(UK).date()
    return format_date(day, "d MMMM y", locale=locale)


def month_in_words(value: date | str | None, locale: str = LOCALE) -> str:
    """`March 2025` from a date or a `2025-03` month; anything else is shown as given."""
    if value is None or value == "":
        return ""
    if isinstance(value, date):
        return format_date(value, "MMMM y", locale=locale)
    found = _YEAR_MONTH.match(value.strip())
    if not found:
        return value
    return format_date(date(int(found[1]), int(found[2]), 1), "MMMM y", locale=locale)


class DateInWords(Localisable):
    """A day or month in words with a CLDR pattern: `DateInWords(day, "MMM yy")` reads
    "Jun 25" and says "Meh 25" on a Welsh page."""

    day: date
    pattern: str

    def __new__(cls, day: date, pattern: str) -> DateInWords:
        made = super().__new__(cls, format_date(day, pattern, locale=LOCALE))
        made.day = day
        made.pattern = pattern
        return made

    def localised(self, gettext: Gettext, locale: str) -> str:
        return format_date(self.day, self.pattern, locale=locale)


class TimeInWords(Localisable):
    """A moment on the UK clock in words, for a message made in Python: reads
    "1 July 2025, 3:05pm BST" and says "1 Gorffennaf 2025, 3:05yh BST" on a Welsh page."""

    moment: datetime

    def __new__(cls, moment: datetime) -> TimeInWords:
        made = super().__new__(cls, uk_time(moment))
        made.moment = moment
        return made

    def localised(self, gettext: Gettext, locale: str) -> str:
        return uk_time(self.moment, locale=locale)


FILTERS: dict[str, Any] = {
    "uk_time": uk_time,
    "uk_date": uk_date,
    "month_in_words": month_in_words,
}


def add_date_filters(filters: dict[str, Any]) -> None:
    """Register the filters on a Jinja environment's `filters` (pages and emails)."""
    filters.update(FILTERS)
