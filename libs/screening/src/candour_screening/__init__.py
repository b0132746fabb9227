"""Pure text screening of stories: identifying details, safeguarding, language.

    from candour_screening import default_screener
    result = default_screener().screen({"title": title, "body": body}, author_name=name)
    result.to_json()  # {"redactions": [...], "safeguarding": {"level", "categories", "matches"}}

No I/O and no dependency on any service: moderation screens every story with
it, and story-intake can use it for the author's own check before sending.
"""

from typing import TYPE_CHECKING, Any

from candour_screening.explanations import localised_limit, localised_reason
from candour_screening.model import (
    Field,
    LanguageFlag,
    Redaction,
    Safeguarding,
    SafeguardingMatch,
    Screening,
    apply_redactions,
)
from candour_screening.provenance import inputs_digest, screener_version
from candour_screening.taxonomy import (
    CATEGORY_LABELS,
    REPLACEMENTS,
    LanguageKind,
    RedactionKind,
    SafeguardingCategory,
    SafeguardingLevel,
)

if TYPE_CHECKING:
    from candour_screening.screener import Screener, default_screener, screen

# The screener (spaCy: seconds to import) loads on first use, so a process that only
# reads screening results (moderation's main process, the CLI) never pays for it.
_SCREENER_NAMES = frozenset({"Screener", "default_screener", "screen"})


def __getattr__(name: str) -> Any:
    if name in _SCREENER_NAMES:
        from candour_screening import screener

        return getattr(screener, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CATEGORY_LABELS",
    "REPLACEMENTS",
    "Field",
    "LanguageFlag",
    "LanguageKind",
    "Redaction",
    "RedactionKind",
    "Safeguarding",
    "SafeguardingCategory",
    "SafeguardingLevel",
    "SafeguardingMatch",
    "Screener",
    "Screening",
    "apply_redactions",
    "default_screener",
    "inputs_digest",
    "localised_limit",
    "localised_reason",
    "screen",
    "screener_version",
]
