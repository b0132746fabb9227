"""Pure text screening of stories: identifying details, safeguarding, language.

    from candour_screening import default_screener
    result = default_screener().screen({"title": title, "body": body}, author_name=name)
    result.to_json()  # {"redactions": [...], "safeguarding": {"level", "categories", "matches"}}

No I/O and no dependency on any service: moderation screens every story with
it, and story-intake can use it for the author's own check before sending.
"""

from candour_screening.model import (
    Field,
    LanguageFlag,
    Redaction,
    Safeguarding,
    SafeguardingMatch,
    Screening,
    apply_redactions,
)
from candour_screening.screener import Screener, default_screener, screen
from candour_screening.taxonomy import (
    CATEGORY_LABELS,
    REPLACEMENTS,
    LanguageKind,
    RedactionKind,
    SafeguardingCategory,
    SafeguardingLevel,
)

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
    "screen",
]
