"""The words screening explains itself with, and how to say them in another language.

A match's `reason` ("means + intent, in the past") and a field's `limits` ("body:
only the first 20,000 of 25,000 characters were screened for safeguarding") are
stored and returned in English, as they always were: the API and the stored
screenings keep that form. Each is built from the messages marked `N_` here and in
`rules` (moderation's Welsh catalogue holds them), so a page can say it in its own
language at display time: `localised_reason(reason, translated)` and
`localised_limit(limit, translated)` take the stored English apart by these same
messages and put it together again translated. Text they do not recognise (written
by an older screening, or a reason that is no longer a rule's) is returned as stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from candour_screening.rules import RULES
from candour_screening.taxonomy import LEGACY_REASON, LEGACY_WORDS, N_

Gettext = Callable[[str], str]

# What a match's reason adds to its rule's reason (`safeguarding._reason`).
IN_THE_PAST = N_("{reason}, in the past")
DANGER_NOW = N_("{reason}, with danger now")
ABOUT_SOMEONE_ELSE = N_("{reason} (about someone else)")
# Outermost last: "{reason}, in the past (about someone else)".
_REASON_SUFFIXES = (ABOUT_SOMEONE_ELSE, IN_THE_PAST, DANGER_NOW)

# The limits a field's screening can reach (`safeguarding.SafeguardingMatcher`).
ONLY_FIRST_CHARACTERS = N_(
    "{field}: only the first {shown} of {total} characters were screened for safeguarding"
)
STOPPED_AFTER = N_(
    "{field}: safeguarding screening stopped after {count} candidate phrases; read the whole text"
)
PHRASE_TOO_OFTEN = N_(
    "{field}: a phrase occurs more than {count} times; only its first {count} "
    "occurrences were screened"
)
FIRST_MATCHES_ONLY = N_("{field}: only the first {count} matches of {category} are listed")
# What was cut (`identifying`: "capitalised words", "month names", ...) is a message too.
CANDIDATES_CUT = N_(
    "{field}: more than {count} {what}; only the first {count} were checked for identifying details"
)
LIMITS = (
    ONLY_FIRST_CHARACTERS,
    STOPPED_AFTER,
    PHRASE_TOO_OFTEN,
    FIRST_MATCHES_ONLY,
    CANDIDATES_CUT,
)
# A field as a limit names it, said in the page's language ("yn y stori: ...").
FIELD_WORDS = {"title": N_("in the title"), "body": N_("in the story")}

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_VALUE_PATTERNS = {"field": r"\w+", "category": r".+?", "what": r".+?", "reason": r".+"}
# Values that are themselves messages: a limit whose value has no translation is
# shown as stored rather than half in English.
_WORDS = ("category", "what")
_NUMBER = r"[0-9][0-9,]*"


@cache
def _known_reasons() -> frozenset[str]:
    return frozenset(rule.reason for rule in RULES)


@cache
def _pattern(template: str) -> re.Pattern[str]:
    """A regular expression that reads `template`'s values back out of its English."""
    parts: list[str] = []
    seen: set[str] = set()
    position = 0
    for placeholder in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[position : placeholder.start()]))
        name = placeholder.group(1)
        if name in seen:
            parts.append(f"(?P={name})")
        else:
            parts.append(f"(?P<{name}>{_VALUE_PATTERNS.get(name, _NUMBER)})")
            seen.add(name)
        position = placeholder.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts))


def localised_reason(reason: str, translated: Gettext) -> str:
    """A stored match reason in `translated`'s language; as stored when not recognised."""
    said = _localised_reason(reason, translated)
    return reason if said is None else said


def _localised_reason(reason: str, translated: Gettext) -> str | None:
    if reason in _known_reasons():
        return translated(reason)
    legacy = _pattern(LEGACY_REASON).fullmatch(reason)
    if legacy is not None:
        words = legacy.group("reason")
        said_words = translated(words) if words in LEGACY_WORDS.values() else words
        return translated(LEGACY_REASON).format(reason=said_words)
    for suffix in _REASON_SUFFIXES:
        found = _pattern(suffix).fullmatch(reason)
        if found is not None:
            inner = _localised_reason(found.group("reason"), translated)
            return None if inner is None else translated(suffix).format(reason=inner)
    return None


def localised_limit(limit: str, translated: Gettext) -> str:
    """A stored limit in `translated`'s language; as stored when not recognised, or when
    its message is not translated (English: exactly the stored text)."""
    for template in LIMITS:
        found = _pattern(template).fullmatch(limit)
        if found is None:
            continue
        said = translated(template)
        if said == template:
            return limit
        values = found.groupdict()
        field = values["field"]
        values["field"] = translated(FIELD_WORDS[field]) if field in FIELD_WORDS else field
        for name in _WORDS:
            if name in values:
                words = translated(values[name])
                if words == values[name]:
                    return limit
                values[name] = words
        return _capitalised(said.format(**values))
    return limit


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


__all__ = [
    "ABOUT_SOMEONE_ELSE",
    "CANDIDATES_CUT",
    "DANGER_NOW",
    "FIRST_MATCHES_ONLY",
    "IN_THE_PAST",
    "ONLY_FIRST_CHARACTERS",
    "PHRASE_TOO_OFTEN",
    "STOPPED_AFTER",
    "localised_limit",
    "localised_reason",
]
