"""Identifying details in a text: each a suggested redaction with its offsets.

| kind            | detector                                                           |
|-----------------|--------------------------------------------------------------------|
| email           | regular expression (RFC 5322 simplified, bounded lengths)          |
| phone           | `phonenumbers` (region GB) on number-shaped candidates: valid      |
|                 | numbers, and UK-length numbers written with 0, +44 or 0044         |
| nhs_number      | 10 digits (3-3-4 grouping allowed) passing the NHS mod-11 checksum |
| hospital_number | a hospital, MRN or patient number: letters and digits after those  |
|                 | words                                                              |
| postcode        | regular expression of the UK postcode format                       |
| address         | house number + capitalised words + a street suffix (Road, ...)     |
| social_handle   | @handle (not an email), and a handle after Twitter, Instagram, ... |
| person_name     | capitalised name after a title or role (Dr, the charge nurse, my   |
|                 | son...), and common given names from `lexicon.FIRST_NAMES`         |
| author_name     | the distinctive words of the author's display name                 |
| date, time      | day + month name, "the 14th", numeric dates, clock times           |

Overlapping suggestions are merged into one (the higher-priority kind names
it), so applying them never leaks a fragment of a longer identifying detail.

Linear time on any input: every repetition in a pattern is bounded (`{1,64}`,
not `+`) or cannot overlap with what follows it, and each detector is tried
only where its match can start (the start of a run of digits, an `@`, a title
word), so a pattern never backtracks over more than a few dozen characters
whatever the text. `phonenumbers` runs only on short number-shaped windows.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import phonenumbers

from candour_screening import lexicon
from candour_screening.explanations import CANDIDATES_CUT
from candour_screening.model import Field, Redaction
from candour_screening.taxonomy import N_, REPLACEMENTS, RedactionKind

# Earlier kinds win when suggestions overlap.
_KIND_PRIORITY = {kind: rank for rank, kind in enumerate(RedactionKind)}
_T = TypeVar("_T")


def identifying_details_in(
    field: Field, scanned: ScannedText, author_name: str | None
) -> tuple[list[Redaction], list[str]]:
    """Every identifying detail in the text, overlaps merged, in order; and the
    limits reached looking for them (see `MAX_CANDIDATES`)."""
    bounded = _Bounded()
    redactions = _merge(field, scanned.text, _identifying(scanned, author_name, bounded))
    if scanned.digit_runs_capped:
        bounded.reached.add(N_("runs of digits"))
    limits = [
        CANDIDATES_CUT.format(field=field, count=MAX_CANDIDATES, what=what)
        for what in sorted(bounded.reached)
    ]
    return redactions, limits


# Places a detector tries, per field. A story has a few dozen numbers and names;
# only a hostile text has thousands, and it is checked up to this many of each
# and flagged for a moderator to read in full.
MAX_CANDIDATES = 500


class _Bounded:
    """Cuts each detector's candidate places at MAX_CANDIDATES and remembers which were cut."""

    def __init__(self) -> None:
        self.reached: set[str] = set()

    def first(self, what: str, places: Iterable[_T]) -> Iterator[_T]:
        for count, place in enumerate(places):
            if count == MAX_CANDIDATES:
                self.reached.add(what)
                return
            yield place


# ------------------------------------------------------------ shared scanning

# ASCII and the common typography beside it in pasted or phone-typed stories
# (curly quotes, dashes, the pound sign...). None of these has a case, so
# lower-casing such text changes only A-Z, one character for one.
_PLAIN_TYPOGRAPHY = "\u00a0\u00a3\u2013\u2014\u2018\u2019\u201c\u201d\u2026\u20ac"
_NOT_PLAIN = re.compile(f"[^\\x00-\\x7f{_PLAIN_TYPOGRAPHY}]")
_DIGIT_RUN = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class ScannedText:
    """One field's text, with what several detectors look up in it worked out once."""

    text: str
    # `text.lower()` when it is plain (ASCII and `_PLAIN_TYPOGRAPHY`), for
    # `Caseless`; None when the text has other characters (accents, ...).
    plain_lower: str | None
    # Where each run of digits starts (the first MAX_CANDIDATES): every
    # number-shaped detail starts at one, or (a postcode) a few characters before one.
    digit_runs: tuple[int, ...]
    digit_runs_capped: bool = False

    @classmethod
    def of(cls, text: str) -> ScannedText:
        plain = text.isascii() or _NOT_PLAIN.search(text) is None
        runs = tuple(
            m.start() for m in itertools.islice(_DIGIT_RUN.finditer(text), MAX_CANDIDATES + 1)
        )
        return cls(
            text=text,
            plain_lower=text.lower() if plain else None,
            digit_runs=runs[:MAX_CANDIDATES],
            digit_runs_capped=len(runs) > MAX_CANDIDATES,
        )


class Caseless:
    """A case-insensitive pattern that runs several times faster over plain text.

    With IGNORECASE, `re` enters every alternative at every word boundary; a
    lower-case pattern over lower-cased text lets it pass over alternatives on
    their first character. Over plain text (see `ScannedText`) both find the same
    spans; other text is matched with IGNORECASE as written.
    """

    __slots__ = ("_ignoring_case", "_lower_case")

    def __init__(self, pattern: str) -> None:
        if pattern != pattern.lower():
            raise ValueError(f"write a case-insensitive pattern in lower case: {pattern!r}")
        self._lower_case = re.compile(pattern)
        self._ignoring_case = re.compile(pattern, re.IGNORECASE)

    def spans(self, text: ScannedText) -> Iterator[tuple[int, int]]:
        """Start and end of every match, as `finditer` over the original text gives them."""
        if text.plain_lower is None:
            matches = self._ignoring_case.finditer(text.text)
        else:
            matches = self._lower_case.finditer(text.plain_lower)
        for match in matches:
            yield match.span()


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


# ------------------------------------------------------ identifying details

# A local part starts where no local-part character is before it, so a long run
# of them ("a.a.a...") is entered once, not at every position.
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,6}"
    r"\.[A-Za-z]{2,24}\b"
)
# Where an email's local part can start: after a character that cannot be in one.
_EMAIL_LOCAL_STARTS = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]")
# @handle on its own (not the @ of an email), or a handle named by the platform.
_SOCIAL_HANDLE = re.compile(r"(?<![A-Za-z0-9._%+-])@[A-Za-z0-9_]{2,30}\b(?!\.[A-Za-z])")
_PLATFORMS: tuple[str, ...] = (
    *("twitter", "instagram", "insta", "tiktok", "facebook", "snapchat", "threads"),
    *("bluesky", "x"),
)
_HANDLE_AFTER_PLATFORM = re.compile(
    rf"\b(?=[{''.join({p[0] for p in _PLATFORMS})}{''.join({p[0].upper() for p in _PLATFORMS})}])"
    rf"(?i:{'|'.join(_PLATFORMS)})"
    r"(?i:\s+(?:handle|account|name|page|username))?(?i:\s+(?:is|at|as|called))?:?\s{1,3}"
    r"(?P<handle>@?[A-Za-z0-9_.]{3,30}[A-Za-z0-9_])\b"
)
# "hospital number RX1234567", "MRN: 00123456", "patient number A123456".
_HOSPITAL_NUMBER = re.compile(
    r"\b(?i:hospital\s+(?:number|no\.?|id)|patient\s+(?:number|no\.?|id)|mrn|unit\s+number"
    r"|medical\s+record\s+number|case\s+number|k\s?number)\s{0,2}(?i:is|was)?[\s:#]{0,4}"
    r"(?P<number>[A-Z]{0,4}[ -]?\d[\d -]{3,12}\d[A-Z]?)\b"
)
_HOSPITAL_NUMBER_STARTS = Caseless(
    r"\b(?=[hpmuck])(?=hospital\s+(?:number|no|id)|patient\s+(?:number|no|id)|mrn"
    r"|unit\s+number|medical\s+record|case\s+number|k\s?number)"
)
_NHS_NUMBER = re.compile(r"(?<![\d-])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?![\d-])")
_POSTCODE = re.compile(
    r"\b(?:GIR\s?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-HJKPSTUW\d]?\s?\d[ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)
_STREET_SUFFIX = (
    r"(?:Street|St|Road|Rd|Lane|Avenue|Ave|Close|Drive|Way|Crescent|Place|Terrace|Court"
    r"|Gardens|Grove|Mews|Row|Square|Walk|Hill|Park)"
)
_ADDRESS = re.compile(
    rf"\b\d{{1,4}}[A-Za-z]?,?\s{{1,3}}(?:[A-Z][a-z]{{1,24}}\s{{1,3}}){{1,3}}{_STREET_SUFFIX}\b\.?"
)

_MONTH_NAMES = (
    *("January", "February", "March", "April", "May", "June", "July", "August"),
    *("September", "October", "November", "December"),
    *("Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec"),
)
_MONTH = "(?:" + "|".join(_MONTH_NAMES) + ")"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_DAY_MONTH = re.compile(rf"\b{_DAY}\s{{1,3}}(?:of\s{{1,3}})?{_MONTH}\b(?:,?\s{{1,3}}\d{{4}}\b)?")
# "March 14", "March 14, 2024", and a month and year: "March 2023".
_MONTH_DAY = re.compile(
    rf"\b{_first_letter_of(_MONTH_NAMES)}{_MONTH}\s{{1,3}}"
    rf"(?:(?:19|20)\d\d\b|{_DAY}\b(?:,?\s{{1,3}}\d{{4}}\b)?)"
)
# A partial date: "on the 14th", "by the 3rd" (an ordinal day after "the").
_ORDINAL_DAY = re.compile(
    r"(?<=\b[Tt]he\s)(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)\b"
    # ... but not the 2nd floor, the 3rd day, the 4th time.
    r"(?!\s{1,3}(?:floor|day|week|month|year|time|attempt|dose|round|place|visit|session"
    r"|appointment|cycle|child|baby|birthday|anniversary|generation|person|bed|ward)s?\b)"
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
_NAME_WORD = rf"(?!(?:{_NOT_NAME})\b)[A-Z][a-zA-Z]{{0,30}}(?:['\u2019-][A-Z][a-zA-Z]{{1,30}})?"
_NAME = rf"{_NAME_WORD}(?:\s{{1,2}}{_NAME_WORD})?"
_TITLES = r"(?:Dr|Doctor|Nurse|Sister|Matron|Mr|Mrs|Ms|Miss|Mx|Prof|Professor|Midwife|Sr)\.?"
# Roles, each a pattern that starts with the literal word before its first `\`
# or `(` (what a text must contain for the role to be in it).
_ROLE_PATTERNS = (
    *(r"key\s?worker", r"care\s?worker", "carer", r"social\sworker", r"support\sworker"),
    *(r"health\svisitor", r"charge\snurse", r"staff\snurse", r"ward\smanager", "hca"),
    *(r"care\sassistant", r"healthcare\sassistant", "advocate", "sister", "brother-in-law"),
    *("sister-in-law", "niece", "nephew", "aunt", "uncle", "cousin", "gp", "consultant"),
    *("surgeon", "registrar", "physio(?:therapist)?", "paramedic", "receptionist", "therapist"),
    *("psychiatrist", "psychologist", "counsellor", "husband", "wife", "partner", "son"),
    *("daughter", "mum", "mom", "dad", "mother", "father", "brother", "grandson"),
    *("granddaughter", "nan", "gran", "grandad", "grandma", "grandpa", "friend", "neighbour"),
    *("baby", "called", "named", r"name\s(?:is|was)"),
)
_ROLES = "(?:" + "|".join(_ROLE_PATTERNS) + ")"
# The title or role is matched case-insensitively; the name must be capitalised.
_NAME_AFTER_TITLE = re.compile(rf"\b(?i:{_TITLES}|{_ROLES}),?\s{{1,3}}(?P<name>{_NAME})\b")
_TITLE_PATTERNS = tuple(t.lower() for t in _TITLES[3:-4].split("|"))
# Given names are found by a word scan and a set lookup (an alternation of a few
# hundred names would be tried at every capital letter).
_CAPITALISED_WORD = re.compile(r"\b[A-Z][a-z]{1,20}\b")
_SURNAME_AFTER = re.compile(rf"\s{{1,2}}{_NAME_WORD}\b")

_Candidate = tuple[int, int, RedactionKind]


def _identifying(
    scanned: ScannedText, author_name: str | None, bounded: _Bounded
) -> Iterator[_Candidate]:
    text = scanned.text
    # An email address has an @; a phone number, NHS number, address, numeric
    # date or time starts where a run of digits starts.
    digit_runs = scanned.digit_runs
    if "@" in text:
        yield from _emails_and_handles(text, bounded)
    for m in bounded.first(N_("social media names"), _HANDLE_AFTER_PLATFORM.finditer(text)):
        if any(c.isdigit() or c == "_" or c == "@" for c in m.group("handle")):
            yield m.start("handle"), m.end("handle"), RedactionKind.SOCIAL_HANDLE
    hospital_starts = bounded.first(
        N_("hospital number prompts"), _starts(_HOSPITAL_NUMBER_STARTS, scanned)
    )
    for m in _matches_from(_HOSPITAL_NUMBER, text, hospital_starts):
        yield m.start("number"), m.end("number"), RedactionKind.HOSPITAL_NUMBER
    for m in _matches_from(_NHS_NUMBER, text, digit_runs):
        if is_valid_nhs_number("".join(m.groups())):
            yield m.start(), m.end(), RedactionKind.NHS_NUMBER
    if digit_runs:
        yield from _phones(text, digit_runs)
    for m in _matches_from(_POSTCODE, text, _postcode_starts(digit_runs)):
        yield m.start(), m.end(), RedactionKind.POSTCODE
    for m in _matches_from(_ADDRESS, text, digit_runs):
        yield m.start(), m.end(), RedactionKind.ADDRESS
    if author_name:
        yield from _author_name(scanned, author_name, bounded)
    title_starts = bounded.first(N_("titles and roles"), _title_starts(scanned))
    for m in _matches_from(_NAME_AFTER_TITLE, text, title_starts):
        yield m.start("name"), m.end("name"), RedactionKind.PERSON_NAME
    for m in bounded.first(N_("capitalised words"), _CAPITALISED_WORD.finditer(text)):
        if m.group() in lexicon.FIRST_NAMES:
            end = m.end()
            if (surname := _SURNAME_AFTER.match(text, end)) is not None:
                end = surname.end()
            yield m.start(), end, RedactionKind.PERSON_NAME
    for m in _matches_from(_DAY_MONTH, text, digit_runs):
        yield m.start(), m.end(), RedactionKind.DATE
    for m in bounded.first(N_("month names"), _MONTH_DAY.finditer(text)):
        yield m.start(), m.end(), RedactionKind.DATE
    for m in _matches_from(_ORDINAL_DAY, text, digit_runs):
        yield m.start(), m.end(), RedactionKind.DATE
    for m in _matches_from(_NUMERIC_DATE, text, digit_runs):
        yield m.start(), m.end(), RedactionKind.DATE
    for pattern in _TIMES:
        for m in _matches_from(pattern, text, digit_runs):
            yield m.start(), m.end(), RedactionKind.TIME


def _starts(pattern: Caseless, scanned: ScannedText) -> Iterator[int]:
    return (start for start, _ in pattern.spans(scanned))


def _title_starts(scanned: ScannedText) -> Iterator[int]:
    """Where a title or role followed by a space starts: the only places to try
    `_NAME_AFTER_TITLE`.

    Only the titles and roles the text contains are looked for: `re` tries an
    alternation's branches one after another at every word boundary, and most
    stories hold a handful of the sixty.
    """
    lower = scanned.plain_lower
    if lower is None:
        return _starts(_every_title_start(), scanned)
    present = tuple(p for p, word in _TITLES_AND_LEADING_WORDS if word in lower)
    if not present:
        return iter(())
    return _starts(_title_start_pattern(present), scanned)


def _leading_word(pattern: str) -> str:
    return re.split(r"[\\(]", pattern, maxsplit=1)[0]


# Each title or role pattern with the plain word it starts with, split once: this test
# runs for every field screened (it was a third of the screening time of a short story).
_TITLES_AND_LEADING_WORDS = tuple(
    (p, _leading_word(p)) for p in (*_TITLE_PATTERNS, *_ROLE_PATTERNS)
)


@functools.lru_cache(maxsize=256)
def _title_start_pattern(patterns: tuple[str, ...]) -> Caseless:
    words = [_leading_word(p) for p in patterns]
    return Caseless(rf"\b{_first_letter_of(words)}(?=(?:{'|'.join(patterns)})\.?,?\s)")


def _every_title_start() -> Caseless:
    return _title_start_pattern((*_TITLE_PATTERNS, *_ROLE_PATTERNS))


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


# A number-shaped stretch: a digit (or + / ( before one), then digits and the
# separators people write in phone numbers, ending in a digit. Bounded, so a
# long run of digits is cut into windows, never scanned back and forth.
_PHONE_CANDIDATE = re.compile(r"(?:\+|00|\()?\d[\d \-().]{6,22}\d")


# `phonenumbers` costs ~0.1 ms a call: numbers written the UK way are judged by
# their digits alone, and at most this many others per field are parsed.
_MAX_PARSED = 50
_UK_PREFIXES = ("0", "+44", "0044", "(0")


def _phones(text: str, digit_runs: Iterable[int]) -> Iterator[_Candidate]:
    """Phone numbers in number-shaped windows: UK-shaped by their digits, others by
    `phonenumbers` (region GB)."""
    parsed = 0
    for m in _matches_from(_PHONE_CANDIDATE, text, _phone_starts(text, digit_runs)):
        window = m.group()
        digits = "".join(c for c in window if c.isdigit())
        if window.startswith(_UK_PREFIXES):
            national = digits[2:] if digits.startswith("44") else digits
            national = national[2:] if window.startswith("0044") else national
            national = national.lstrip("0") if national.startswith("0") else national
            if len(national) in (9, 10) and len(digits) <= 13:
                yield m.start(), m.end(), RedactionKind.PHONE
            continue
        if parsed >= _MAX_PARSED or not 7 <= len(digits) <= 15:
            continue
        parsed += 1
        start = m.start()
        matcher = phonenumbers.PhoneNumberMatcher(
            window, "GB", leniency=phonenumbers.Leniency.POSSIBLE, max_tries=4
        )
        for match in matcher:
            if phonenumbers.is_valid_number(match.number):
                yield start + match.start, start + match.end, RedactionKind.PHONE


def _phone_starts(text: str, digit_runs: Iterable[int]) -> list[int]:
    """Digit runs, moved back over a `+`, `00`'s own digits need no move, or a `(`."""
    starts = []
    for run in digit_runs:
        if run and text[run - 1] in "+(":
            run -= 1
        starts.append(run)
    return starts


def _emails_and_handles(text: str, bounded: _Bounded) -> Iterator[_Candidate]:
    local_starts = bounded.first(
        N_("places an email address could start"),
        (m.start() for m in _EMAIL_LOCAL_STARTS.finditer(text)),
    )
    for m in _matches_from(_EMAIL, text, local_starts):
        yield m.start(), m.end(), RedactionKind.EMAIL
    for m in bounded.first(N_("@ handles"), _SOCIAL_HANDLE.finditer(text)):
        yield m.start(), m.end(), RedactionKind.SOCIAL_HANDLE


def _author_name(scanned: ScannedText, author_name: str, bounded: _Bounded) -> Iterator[_Candidate]:
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
    for m in bounded.first(N_("mentions of the author's name"), pattern.finditer(text)):
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
