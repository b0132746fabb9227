"""`N_`: marks an English message kept in Python data (a label, a page's error) for the
Welsh catalogue. It returns the message unchanged; a page translates it when shown
(`{{ _(label) }}`), and `make i18n-extract` finds it by this name (Babel's default)."""

from __future__ import annotations


def N_(message: str) -> str:
    return message
