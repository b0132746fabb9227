"""Marking English messages kept in Python (a label, a page's error) for the Welsh
catalogue, so a page can translate them when it shows them (`{{ translate(message) }}`).

`N_` returns the message unchanged; `make i18n-extract` finds it by this name (Babel's
default). `Filled` is a message with values put into it ("Your story must be 1,000
words or fewer"): it reads as the English text, and still knows its msgid and values,
so a Welsh page can fill in the Welsh message instead.
"""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    return message


class Filled(str):
    """`Filled(N_("Up to {limit} words"), limit="1,000")` == "Up to 1,000 words"."""

    msgid: str
    values: dict[str, Any]

    def __new__(cls, msgid: str, **values: Any) -> Filled:
        filled = super().__new__(cls, msgid.format(**values))
        filled.msgid = msgid
        filled.values = values
        return filled

    def in_words_of(self, translated_msgid: str) -> str:
        """This message in another language, given its msgid's translation."""
        return translated_msgid.format(**self.values)
