"""Automated first screening of a story: a pure, deterministic function.

`screen(title, body, author_name)` finds what a moderator must look at before a
story can be published:

- identifying details, each a suggested redaction with offsets into the
  original text and a replacement;
- safeguarding disclosures, graded `none`, `concern` (publishable after
  review) or `serious` (do not publish; escalate);
- swearing, discriminatory language and text written in capitals.

Every offset is a Python string index into the field (`title` or `body`) it
names, so `text[start:end] == match.text`. What each detector uses:

| kind          | detector                                                             |
|---------------|----------------------------------------------------------------------|
| email         | regular expression (RFC 5322 simplified)                             |
| phone         | `phonenumbers` (region GB): valid numbers, and numbers of UK length  |
|               | written with a leading 0 or +44 (covers unassigned/drama ranges)     |
| nhs_number    | 10 digits (3-3-4 grouping allowed) passing the NHS mod-11 checksum   |
| postcode      | regular expression of the UK postcode format                         |
| address       | house number + capitalised words + a street suffix (Road, Street...) |
| person_name   | capitalised name after a title or role (Dr, Nurse, Sister, my son,   |
|               | key worker...), and common given names from `lexicon.FIRST_NAMES`     |
| author_name   | the distinctive words of the author's display name                   |
| date, time    | day + month name, numeric dates, clock times                         |

Overlapping suggestions are merged into one (the higher-priority kind names
it), so applying them never leaks a fragment of a longer identifying detail.

Speed: most of a story matches nothing, so the detectors avoid trying every
pattern at every position. Each rule's matches are exactly what
`pattern.finditer(text)` would give; they are only looked for where a cheap
first pass says one can start (see `_matches_from`): the safeguarding rules and
the titles before names behind one combined pattern each, the number-shaped
details at the start of a run of digits. Case-insensitive patterns run over the
lower-cased text when that gives the same spans (`_Caseless`), and the capitals
scan looks at one byte per word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import phonenumbers

from candour_moderation.domain import lexicon

Field = Literal["title", "body"]
FIELDS: tuple[Field, ...] = ("title", "body")


class SafeguardingLevel(StrEnum):
    NONE = "none"
    CONCERN = "concern"
    SERIOUS = "serious"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {SafeguardingLevel.NONE: 0, SafeguardingLevel.CONCERN: 1, SafeguardingLevel.SERIOUS: 2}


class SafeguardingCategory(StrEnum):
    SUICIDAL_INTENT = "suicidal_intent"
    SELF_HARM = "self_harm"
    ABUSE = "abuse"
    NEGLECT = "neglect"
    AT_RISK_NOW = "at_risk_now"


class RedactionKind(StrEnum):
    EMAIL = "email"
    NHS_NUMBER = "nhs_number"
    PHONE = "phone"
    POSTCODE = "postcode"
    ADDRESS = "address"
    AUTHOR_NAME = "author_name"
    PERSON_NAME = "person_name"
    DATE = "date"
    TIME = "time"


# Earlier kinds win when suggestions overlap.
_KIND_PRIORITY = {kind: rank for rank, kind in enumerate(RedactionKind)}

REPLACEMENTS: dict[RedactionKind, str] = {
    RedactionKind.EMAIL: "[email address]",
    RedactionKind.NHS_NUMBER: "[NHS number]",
    RedactionKind.PHONE: "[phone number]",
    RedactionKind.POSTCODE: "[postcode]",
    RedactionKind.ADDRESS: "[address]",
    RedactionKind.AUTHOR_NAME: "[name]",
    RedactionKind.PERSON_NAME: "[name]",
    RedactionKind.DATE: "[date]",
    RedactionKind.TIME: "[time]",
}


class LanguageKind(StrEnum):
    SWEARING = "swearing"
    DISCRIMINATORY = "discriminatory"
    CAPITALS = "capitals"


@dataclass(frozen=True, slots=True)
class SafeguardingMatch:
    field: Field
    start: int
    end: int
    text: str
    category: SafeguardingCategory
    level: SafeguardingLevel


@dataclass(frozen=True, slots=True)
class Safeguarding:
    level: SafeguardingLevel
    matches: tuple[SafeguardingMatch, ...] = ()


@dataclass(frozen=True, slots=True)
class Redaction:
    field: Field
    start: int
    end: int
    text: str
    kind: RedactionKind
    replacement: str


@dataclass(frozen=True, slots=True)
class LanguageFlag:
    field: Field
    start: int
    end: int
    text: str
    kind: LanguageKind


@dataclass(frozen=True, slots=True)
class Screening:
    safeguarding: Safeguarding
    redactions: tuple[Redaction, ...] = ()
    language: tuple[LanguageFlag, ...] = ()

    def redactions_in(self, field: Field) -> tuple[Redaction, ...]:
        return tuple(r for r in self.redactions if r.field == field)

    def redacted(self, field: Field, text: str) -> str:
        """`text` (the original `field`) with every suggested redaction applied."""
        return apply_redactions(text, self.redactions_in(field))


def apply_redactions(text: str, redactions: Iterable[Redaction]) -> str:
    """Replace each span with its replacement (spans must not overlap)."""
    out: list[str] = []
    position = 0
    for r in sorted(redactions, key=lambda r: r.start):
        if r.start < position or r.end > len(text) or text[r.start : r.end] != r.text:
            raise ValueError(f"redaction {r.start}:{r.end} does not fit the text")
        out.append(text[position : r.start])
        out.append(r.replacement)
        position = r.end
    out.append(text[position:])
    return "".join(out)


def screen(title: str, body: str, author_name: str | None = None) -> Screening:
    """Screen one story. Pure and deterministic: same input, same output."""
    texts: dict[Field, str] = {"title": title, "body": body}
    safeguarding_matches: list[SafeguardingMatch] = []
    redactions: list[Redaction] = []
    language: list[LanguageFlag] = []
    for field in FIELDS:
        text = _Text.of(texts[field])
        safeguarding_matches.extend(_safeguarding(field, text))
        redactions.extend(_merge(field, text.text, _identifying(text, author_name)))
        language.extend(_language(field, text))
    level = max(
        (m.level for m in safeguarding_matches),
        key=lambda level: level.severity,
        default=SafeguardingLevel.NONE,
    )
    return Screening(
        safeguarding=Safeguarding(level=level, matches=tuple(safeguarding_matches)),
        redactions=tuple(redactions),
        language=tuple(sorted(language, key=lambda f: (FIELDS.index(f.field), f.start))),
    )


# ------------------------------------------------------------ shared scanning

# ASCII and the common typography beside it in pasted or phone-typed stories
# (curly quotes, dashes, the pound sign...). None of these has a case, so
# lower-casing such text changes only A-Z, one character for one.
_PLAIN_TYPOGRAPHY = "\u00a0\u00a3\u2013\u2014\u2018\u2019\u201c\u201d\u2026\u20ac"
_NOT_PLAIN = re.compile(f"[^\\x00-\\x7f{_PLAIN_TYPOGRAPHY}]")
_DIGIT_RUN = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class _Text:
    """One field's text, with what several detectors look up in it worked out once."""

    text: str
    # `text.lower()` when it is plain (ASCII and `_PLAIN_TYPOGRAPHY`), for
    # `_Caseless`; None when the text has other characters (accents, ...).
    plain_lower: str | None
    # Where each run of digits starts: every number-shaped detail starts at one,
    # or (a postcode) a few characters before one.
    digit_runs: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> _Text:
        plain = text.isascii() or _NOT_PLAIN.search(text) is None
        return cls(
            text=text,
            plain_lower=text.lower() if plain else None,
            digit_runs=tuple(m.start() for m in _DIGIT_RUN.finditer(text)),
        )


class _Caseless:
    """A case-insensitive pattern that runs several times faster over plain text.

    With IGNORECASE, `re` enters every alternative at every word boundary; a
    lower-case pattern over lower-cased text lets it pass over alternatives on
    their first character. Over plain text (see `_Text`) both find the same
    spans; other text is matched with IGNORECASE as written.
    """

    __slots__ = ("_ignoring_case", "_lower_case")

    def __init__(self, pattern: str) -> None:
        if pattern != pattern.lower():
            raise ValueError(f"write a case-insensitive pattern in lower case: {pattern!r}")
        self._lower_case = re.compile(pattern)
        self._ignoring_case = re.compile(pattern, re.IGNORECASE)

    def spans(self, text: _Text) -> Iterator[tuple[int, int]]:
        """Start and end of every match, as `finditer` over the original text gives them."""
        if text.plain_lower is None:
            matches = self._ignoring_case.finditer(text.text)
        else:
            matches = self._lower_case.finditer(text.plain_lower)
        for match in matches:
            yield match.span()

    def starts(self, text: _Text) -> list[int]:
        return [start for start, _ in self.spans(text)]


def _first_letter_of(words: Iterable[str]) -> str:
    """A look-ahead for the words' first characters, to put before their alternation.

    `re` cannot skip ahead on a long alternation; with this it tries the
    alternatives only where one of them can start, not at every word boundary.
    """
    return "(?=[" + "".join(sorted({re.escape(word[0]) for word in words})) + "])"


def _matches_from(
    pattern: re.Pattern[str], text: str, starts: Iterable[int]
) -> Iterator[re.Match[str]]:
    """The matches `pattern.finditer(text)` finds, trying the pattern only at `starts`.

    `starts` (ascending) must include every position where `pattern` can match,
    and the pattern must not match the empty string. `pattern.match(text, pos)`
    sees the text before `pos`, so look-behinds and `\\b` behave as in a scan.
    """
    resume = 0
    for start in starts:
        if start >= resume and (match := pattern.match(text, start)) is not None:
            yield match
            resume = match.end()


# ---------------------------------------------------------------- safeguarding

_APOSTROPHE = "['\u2019]"
_SERIOUS = SafeguardingLevel.SERIOUS
_CONCERN = SafeguardingLevel.CONCERN
_FAMILY = (
    r"(?:mum|mother|dad|father|son|daughter|wife|husband|partner|child|children|baby|nan|gran"
    r"|grandmother|grandad|grandfather|brother|sister|aunt|uncle)"
)

_SAFEGUARDING_RULES: tuple[tuple[str, SafeguardingCategory, SafeguardingLevel], ...] = (
    # Suicidal intent
    (r"(?:kill|killing)\s+myself", SafeguardingCategory.SUICIDAL_INTENT, _SERIOUS),
    (
        r"end(?:ing)?\s+(?:my\s+(?:own\s+)?life|it\s+all)",
        SafeguardingCategory.SUICIDAL_INTENT,
        _SERIOUS,
    ),
    (r"tak(?:e|ing)\s+my\s+own\s+life", SafeguardingCategory.SUICIDAL_INTENT, _SERIOUS),
    (r"(?:want|wanted|wanting)\s+to\s+die", SafeguardingCategory.SUICIDAL_INTENT, _SERIOUS),
    (r"suicidal", SafeguardingCategory.SUICIDAL_INTENT, _SERIOUS),
    (r"better\s+off\s+dead", SafeguardingCategory.SUICIDAL_INTENT, _SERIOUS),
    (
        r"no\s+(?:reason|point)\s+(?:to|in)\s+(?:live|living|going\s+on)",
        SafeguardingCategory.SUICIDAL_INTENT,
        _SERIOUS,
    ),
    (
        rf"(?:do\s+not|don{_APOSTROPHE}?t)\s+want\s+to\s+(?:live|be\s+(?:here|alive))",
        SafeguardingCategory.SUICIDAL_INTENT,
        _SERIOUS,
    ),
    (r"suicide", SafeguardingCategory.SUICIDAL_INTENT, _CONCERN),
    (r"overdos(?:e|ed|ing)", SafeguardingCategory.SUICIDAL_INTENT, _CONCERN),
    # Self-harm
    (
        r"(?:cut|cutting|burn|burning|hurt|hurting|harm|harming)\s+myself",
        SafeguardingCategory.SELF_HARM,
        _SERIOUS,
    ),
    (r"self[-\s]?harm(?:ing|ed)?", SafeguardingCategory.SELF_HARM, _CONCERN),
    # Abuse
    (
        r"(?:raped|rape|sexually\s+(?:assaulted|abused)|molested|touched\s+me\s+inappropriately)",
        SafeguardingCategory.ABUSE,
        _SERIOUS,
    ),
    (
        # "it hit me that..." is a realisation; "kicked me out" is a discharge.
        rf"(?<!it\s)(?<!that\s)(?<!this\s)(?:hit|hits|hitting|beat|beats|beating|kicked|kicks"
        rf"|punched|punches|slapped|slaps|strangled|choked)\s+(?:me|her|him|them|my\s+{_FAMILY})"
        r"(?!\s+out\b)",
        SafeguardingCategory.ABUSE,
        _SERIOUS,
    ),
    (r"(?:abuse[ds]?|abusive|abusing)", SafeguardingCategory.ABUSE, _CONCERN),
    (r"domestic\s+violence", SafeguardingCategory.ABUSE, _CONCERN),
    (r"(?:bullied|bullying)", SafeguardingCategory.ABUSE, _CONCERN),
    # Neglect
    (r"neglect(?:ed|ful|ing)?", SafeguardingCategory.NEGLECT, _CONCERN),
    (r"left\s+(?:\w+\s+){0,3}in\s+(?:soiled|wet|dirty)", SafeguardingCategory.NEGLECT, _CONCERN),
    (
        r"in\s+(?:his|her|their|my)\s+own\s+(?:urine|faeces|feces|excrement|mess|wee|poo)",
        SafeguardingCategory.NEGLECT,
        _CONCERN,
    ),
    (r"(?:pressure|bed)\s*sores?", SafeguardingCategory.NEGLECT, _CONCERN),
    (
        r"(?:not|never)\s+(?:been\s+)?(?:fed|given\s+(?:any\s+)?(?:food|water|a\s+drink))",
        SafeguardingCategory.NEGLECT,
        _CONCERN,
    ),
    (r"(?:no|without)\s+(?:food|water)\s+(?:for|all)\b", SafeguardingCategory.NEGLECT, _CONCERN),
    # Someone at risk now
    (
        rf"(?:not|don{_APOSTROPHE}?t\s+feel|do\s+not\s+feel)\s+safe\s+(?:at\s+home|to\s+go\s+home)",
        SafeguardingCategory.AT_RISK_NOW,
        _SERIOUS,
    ),
    (
        r"(?:scared|afraid|frightened|terrified)\s+(?:to\s+go|of\s+going)\s+home",
        SafeguardingCategory.AT_RISK_NOW,
        _SERIOUS,
    ),
    (r"threaten(?:ed|s|ing)?\s+to\s+kill", SafeguardingCategory.AT_RISK_NOW, _SERIOUS),
    (
        r"(?:going|gonna)\s+to\s+(?:hurt|kill)\s+(?:me|her|him|them)",
        SafeguardingCategory.AT_RISK_NOW,
        _SERIOUS,
    ),
    (r"in\s+immediate\s+danger", SafeguardingCategory.AT_RISK_NOW, _SERIOUS),
    (r"in\s+danger", SafeguardingCategory.AT_RISK_NOW, _CONCERN),
)

_SAFEGUARDING_PATTERNS = tuple(
    (re.compile(rf"\b{pattern}\b", re.IGNORECASE), category, level)
    for pattern, category, level in _SAFEGUARDING_RULES
)
# Every position where some rule matches, in one pass (each rule starts with a
# letter); most stories have none or a few, and only there is each rule tried.
_SAFEGUARDING_STARTS = _Caseless(
    r"\b(?=\w)(?=" + "|".join(rf"(?:{pattern})\b" for pattern, _, _ in _SAFEGUARDING_RULES) + ")"
)

# "I have never felt suicidal": a serious phrase under a negation is still worth
# a look, but it is a concern, not an emergency.
_NEGATION_BEFORE = re.compile(
    rf"\b(?:not|never|no\s+longer|isn{_APOSTROPHE}?t|wasn{_APOSTROPHE}?t|denied|deny|denies)"
    r"\b(?:\s+\w+){0,2}\s*$",
    re.IGNORECASE,
)


def _safeguarding(field: Field, scanned: _Text) -> list[SafeguardingMatch]:
    starts = _SAFEGUARDING_STARTS.starts(scanned)
    if not starts:
        return []
    text = scanned.text
    found: list[SafeguardingMatch] = []
    for pattern, category, level in _SAFEGUARDING_PATTERNS:
        for m in _matches_from(pattern, text, starts):
            graded = level
            if level is _SERIOUS and _NEGATION_BEFORE.search(
                text[max(0, m.start() - 40) : m.start()]
            ):
                graded = _CONCERN
            found.append(SafeguardingMatch(field, m.start(), m.end(), m.group(), category, graded))
    # Keep the most severe of overlapping matches ("kill myself" is not also a
    # separate self-harm match); ties go to the longer span.
    found.sort(key=lambda m: (-m.level.severity, -(m.end - m.start), m.start))
    kept: list[SafeguardingMatch] = []
    for match in found:
        if all(match.end <= k.start or match.start >= k.end for k in kept):
            kept.append(match)
    return sorted(kept, key=lambda m: m.start)


# ------------------------------------------------------ identifying details

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_NHS_NUMBER = re.compile(r"(?<![\d-])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?![\d-])")
_POSTCODE = re.compile(
    r"\b(?:GIR\s?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-HJKPSTUW\d]?\s?\d[ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)
_STREET_SUFFIX = (
    r"(?:Street|St|Road|Rd|Lane|Avenue|Ave|Close|Drive|Way|Crescent|Place|Terrace|Court"
    r"|Gardens|Grove|Mews|Row|Square|Walk|Hill|Park)"
)
_ADDRESS = re.compile(rf"\b\d{{1,4}}[A-Za-z]?,?\s+(?:[A-Z][a-z]+\s+){{1,3}}{_STREET_SUFFIX}\b\.?")

_MONTH_NAMES = (
    *("January", "February", "March", "April", "May", "June", "July", "August"),
    *("September", "October", "November", "December"),
    *("Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec"),
)
_MONTH = "(?:" + "|".join(_MONTH_NAMES) + ")"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_DAY_MONTH = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}\b(?:,?\s+\d{{4}}\b)?")
_MONTH_DAY = re.compile(
    rf"\b{_first_letter_of(_MONTH_NAMES)}{_MONTH}\s+{_DAY}\b(?:,?\s+\d{{4}}\b)?"
)
_NUMERIC_DATE = re.compile(
    r"(?<![\d/.-])(?:[12]\d|3[01]|0?[1-9])[/.-](?:1[0-2]|0?[1-9])[/.-](?:\d{4}|\d{2})(?![\d/-]|\.\d)"
)
_TIMES = (
    re.compile(
        r"(?<![£$\d.:])\b(?:[01]?\d|2[0-3]):[0-5]\d(?:\s?(?:am|pm|a\.m\.|p\.m\.))?", re.IGNORECASE
    ),
    re.compile(
        r"(?<![£$\d.:])\b(?:1[0-2]|0?[1-9])\.[0-5]\d\s?(?:am|pm|a\.m\.|p\.m\.)", re.IGNORECASE
    ),
    re.compile(r"(?<![£$\d.:])\b(?:1[0-2]|0?[1-9])\s?(?:am|pm|a\.m\.|p\.m\.)(?!\w)", re.IGNORECASE),
)

_NOT_NAME = "|".join(sorted(lexicon.NOT_NAMES, key=len, reverse=True))
# One capitalised name word (O'Brien, Smith-Jones, McDonald), never a word in NOT_NAMES.
_NAME_WORD = rf"(?!(?:{_NOT_NAME})\b)[A-Z][a-zA-Z]*(?:['\u2019-][A-Z][a-zA-Z]+)?"
_NAME = rf"{_NAME_WORD}(?:\s+{_NAME_WORD})?"
_TITLES = r"(?:Dr|Doctor|Nurse|Sister|Matron|Mr|Mrs|Ms|Miss|Mx|Prof|Professor|Midwife|Sr)\.?"
_ROLES = (
    r"(?:key\s*worker|care\s*worker|carer|social\s+worker|support\s+worker|health\s+visitor"
    r"|gp|consultant|surgeon|registrar|physio(?:therapist)?|paramedic|receptionist|therapist"
    r"|psychiatrist|psychologist|counsellor|husband|wife|partner|son|daughter|mum|mom|dad"
    r"|mother|father|brother|grandson|granddaughter|nan|gran|grandad|grandma|grandpa|friend"
    r"|neighbour|baby|called|named)"
)
# The title or role is matched case-insensitively; the name must be capitalised.
_NAME_AFTER_TITLE = re.compile(rf"\b(?i:{_TITLES}|{_ROLES}),?\s+(?P<name>{_NAME})\b")
# Where a title or role is followed by a space: the only places to try the above.
_TITLE_STARTS = _Caseless(rf"\b(?=\w)(?=(?:{_TITLES.lower()}|{_ROLES}),?\s)")
_FIRST_NAME = re.compile(
    rf"\b{_first_letter_of(lexicon.FIRST_NAMES)}"
    rf"(?:{'|'.join(sorted(lexicon.FIRST_NAMES, key=len, reverse=True))})\b(?:\s+{_NAME_WORD}\b)?"
)

_Candidate = tuple[int, int, RedactionKind]


def _identifying(scanned: _Text, author_name: str | None) -> Iterator[_Candidate]:
    text = scanned.text
    # An email address has an @; a phone number, NHS number, address, numeric
    # date or time starts where a run of digits starts.
    digit_runs = scanned.digit_runs
    if "@" in text:
        for m in _EMAIL.finditer(text):
            yield m.start(), m.end(), RedactionKind.EMAIL
    for m in _matches_from(_NHS_NUMBER, text, digit_runs):
        if is_valid_nhs_number("".join(m.groups())):
            yield m.start(), m.end(), RedactionKind.NHS_NUMBER
    if digit_runs:
        yield from _phones(text)
    for m in _matches_from(_POSTCODE, text, _postcode_starts(digit_runs)):
        yield m.start(), m.end(), RedactionKind.POSTCODE
    for m in _matches_from(_ADDRESS, text, digit_runs):
        yield m.start(), m.end(), RedactionKind.ADDRESS
    if author_name:
        yield from _author_name(scanned, author_name)
    for m in _matches_from(_NAME_AFTER_TITLE, text, _TITLE_STARTS.starts(scanned)):
        yield m.start("name"), m.end("name"), RedactionKind.PERSON_NAME
    for m in _FIRST_NAME.finditer(text):
        yield m.start(), m.end(), RedactionKind.PERSON_NAME
    for m in _matches_from(_DAY_MONTH, text, digit_runs):
        yield m.start(), m.end(), RedactionKind.DATE
    for m in _MONTH_DAY.finditer(text):
        yield m.start(), m.end(), RedactionKind.DATE
    for m in _matches_from(_NUMERIC_DATE, text, digit_runs):
        yield m.start(), m.end(), RedactionKind.DATE
    for pattern in _TIMES:
        for m in _matches_from(pattern, text, digit_runs):
            yield m.start(), m.end(), RedactionKind.TIME


def _postcode_starts(digit_runs: Iterable[int]) -> list[int]:
    """Where a postcode may start: its first digit is 1-4 characters in (M1, SW1A, GIR 0AA)."""
    return sorted({run - back for run in digit_runs for back in range(1, 5) if run >= back})


def is_valid_nhs_number(digits: str) -> bool:
    """The NHS number check digit (modulus 11, weights 10..2)."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * weight for d, weight in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return False
    # All-same-digit numbers pass the checksum but are never issued.
    return check == int(digits[9]) and len(set(digits)) > 1


def _phones(text: str) -> Iterator[_Candidate]:
    matcher = phonenumbers.PhoneNumberMatcher(text, "GB", leniency=phonenumbers.Leniency.POSSIBLE)
    for match in matcher:
        raw = match.raw_string.strip()
        number = match.number
        national = phonenumbers.national_significant_number(number)
        # Unassigned or reserved (drama) ranges still identify someone when
        # written like a UK number; bare digit runs (years, amounts) do not.
        uk_shaped = (
            raw.startswith("0") or raw.startswith("+44") or raw.startswith("0044")
        ) and len(national) in (9, 10)
        if phonenumbers.is_valid_number(number) or uk_shaped:
            yield match.start, match.end, RedactionKind.PHONE


def _author_name(scanned: _Text, author_name: str) -> Iterator[_Candidate]:
    words = re.findall(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*", author_name)
    distinctive = {
        w for w in words if len(w) >= 3 and w.lower() not in lexicon.GENERIC_AUTHOR_WORDS
    }
    if not distinctive:
        return
    # In plain text an ASCII word matches only where its lower case appears
    # (IGNORECASE also folds a few other letters, such as a long s, onto ASCII ones).
    plain = scanned.plain_lower
    if plain is not None and all(w.isascii() and w.lower() not in plain for w in distinctive):
        return
    text = scanned.text
    # Any case for the author's words; a capitalised word after them is their surname.
    alternatives = "|".join(re.escape(w) for w in sorted(distinctive, key=len, reverse=True))
    pattern = re.compile(rf"\b(?i:{alternatives})\b(?:\s+{_NAME_WORD}\b)?")
    for m in pattern.finditer(text):
        yield m.start(), m.end(), RedactionKind.AUTHOR_NAME


def _merge(field: Field, text: str, candidates: Iterable[_Candidate]) -> list[Redaction]:
    """Union overlapping spans; the highest-priority kind among them names the result."""
    merged: list[_Candidate] = []
    for start, end, kind in sorted(candidates, key=lambda c: (c[0], -c[1])):
        if merged and start < merged[-1][1]:
            last_start, last_end, last_kind = merged[-1]
            best = kind if _KIND_PRIORITY[kind] < _KIND_PRIORITY[last_kind] else last_kind
            merged[-1] = (last_start, max(last_end, end), best)
        else:
            merged.append((start, end, kind))
    return [Redaction(field, s, e, text[s:e], k, REPLACEMENTS[k]) for s, e, k in merged]


# ---------------------------------------------------------------- language

_SWEARING = _Caseless(r"\b(?:" + "|".join(lexicon.SWEARING) + r")(?!\w)")
_DISCRIMINATORY = _Caseless(r"\b(?:" + "|".join(lexicon.DISCRIMINATORY) + r")\b")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019&-][^\W\d_]+)*")
# Acronyms (NHS, A&E, ICU) are capitals too; shouting is a longer run of them.
_SHOUTING_MIN_WORDS = 3
_SHOUTING_MIN_LETTERS = 15
# Over one byte per word (1: in capitals), the runs that could be shouting.
_RUN_OF_CAPITALS = re.compile(b"\x01{%d,}" % _SHOUTING_MIN_WORDS)


def _language(field: Field, scanned: _Text) -> list[LanguageFlag]:
    text = scanned.text
    flags = [
        LanguageFlag(field, start, end, text[start:end], LanguageKind.SWEARING)
        for start, end in _SWEARING.spans(scanned)
    ]
    flags += [
        LanguageFlag(field, start, end, text[start:end], LanguageKind.DISCRIMINATORY)
        for start, end in _DISCRIMINATORY.spans(scanned)
    ]
    flags += _capitals(field, text)
    return flags


def _capitals(field: Field, text: str) -> list[LanguageFlag]:
    """Runs of consecutive words in capitals (anything between words does not break a run)."""
    words = _WORD.findall(text)
    # Marking the words in C and finding runs with a pattern spares a Python
    # step per word; only a run of several capitalised words is looked at.
    in_capitals = bytes(map(str.isupper, words))
    flags: list[LanguageFlag] = []
    word_spans: list[tuple[int, int]] = []
    for run in _RUN_OF_CAPITALS.finditer(in_capitals):
        run_words = words[run.start() : run.end()]
        long_words = sum(len(w) >= 3 for w in run_words)
        letters = sum(c.isalpha() for w in run_words for c in w)
        if long_words >= _SHOUTING_MIN_WORDS and letters >= _SHOUTING_MIN_LETTERS:
            word_spans = word_spans or [m.span() for m in _WORD.finditer(text)]
            start, end = word_spans[run.start()][0], word_spans[run.end() - 1][1]
            flags.append(LanguageFlag(field, start, end, text[start:end], LanguageKind.CAPITALS))
    return flags
