"""The entry point: text fields in, a `Screening` out. Pure and deterministic."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from candour_screening.identifying import ScannedText, identifying_details_in
from candour_screening.language import language_flags_in
from candour_screening.model import (
    Field,
    LanguageFlag,
    Redaction,
    Safeguarding,
    SafeguardingMatch,
    Screening,
)
from candour_screening.safeguarding import SafeguardingMatcher
from candour_screening.taxonomy import SafeguardingLevel


class Screener:
    """Screens stories. Building one compiles the rules (about a second):
    build it once when a process starts, then call `screen` per story."""

    def __init__(self) -> None:
        self._safeguarding = SafeguardingMatcher()

    def screen(self, fields: Mapping[Field, str], *, author_name: str | None = None) -> Screening:
        """Screen every text field of one story (`{"title": ..., "body": ...}`).

        Offsets in the result point into the field each item names. Empty or
        missing fields are skipped.
        """
        matches: list[SafeguardingMatch] = []
        redactions: list[Redaction] = []
        language: list[LanguageFlag] = []
        limits: list[str] = []
        for field, text in fields.items():
            if not text:
                continue
            scanned = ScannedText.of(text)
            found, reached = self._safeguarding.matches(field, text)
            matches.extend(found)
            limits.extend(reached)
            details, reached = identifying_details_in(field, scanned, author_name)
            redactions.extend(details)
            limits.extend(reached)
            language.extend(language_flags_in(field, scanned))
        level = max(
            (m.level for m in matches),
            key=lambda level: level.severity,
            default=SafeguardingLevel.NONE,
        )
        order = {field: index for index, field in enumerate(fields)}
        return Screening(
            safeguarding=Safeguarding(level=level, matches=tuple(matches)),
            redactions=tuple(redactions),
            language=tuple(sorted(language, key=lambda f: (order[f.field], f.start))),
            limits=tuple(limits),
        )


@functools.cache
def default_screener() -> Screener:
    """One shared screener per process, built on first use (never at import)."""
    return Screener()


def screen(fields: Mapping[Field, str], *, author_name: str | None = None) -> Screening:
    """`default_screener().screen(...)`: the one-line call for a service."""
    return default_screener().screen(fields, author_name=author_name)
