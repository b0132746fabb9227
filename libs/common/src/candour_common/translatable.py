"""Marking English words kept in Python (a label, a page's error, a duration) so a
page can show them in its own language (`{{ translate(value) }}` in a template).

`N_` returns the message unchanged; `make i18n-extract` finds it by this name (Babel's
default). A `Localisable` reads as its English text (so code, APIs and tests see plain
English) and knows how to say itself in another language: `Filled` is a message with
values put into it ("Your story must be 1,000 words or fewer"); `dates.DateInWords` is
a date in words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Gettext = Callable[[str], str]


def N_(message: str) -> str:  # the gettext convention Babel extracts by default
    return message


class Localisable(str):
    """English text that can be said in another language."""

    def localised(self, gettext: Gettext, locale: str) -> str:
        return gettext(str(self))


class Filled(Localisable):
    """`Filled(N_("Up to {limit} words"), limit="1,000")` == "Up to 1,000 words"; a
    value that is itself `Localisable` is said in the same language."""

    msgid: str
    values: dict[str, Any]

    def __new__(cls, msgid: str, **values: Any) -> Filled:
        filled = super().__new__(cls, msgid.format(**values))
        filled.msgid = msgid
        filled.values = values
        return filled

    def localised(self, gettext: Gettext, locale: str) -> str:
        values = {
            name: value.localised(gettext, locale) if isinstance(value, Localisable) else value
            for name, value in self.values.items()
        }
        return gettext(self.msgid).format(**values)
