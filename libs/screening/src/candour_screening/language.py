"""Language a moderator should check: swearing, discriminatory terms, shouting in capitals."""

from __future__ import annotations

import itertools
import re

from candour_screening import lexicon
from candour_screening.identifying import Caseless, ScannedText, _first_letter_of
from candour_screening.model import Field, LanguageFlag
from candour_screening.taxonomy import LanguageKind


def language_flags_in(field: Field, scanned: ScannedText) -> list[LanguageFlag]:
    return _language(field, scanned)


# Each tried only where a word starts with one of its first letters (`re` would
# otherwise enter the alternation at every word boundary).
_SWEARING = Caseless(
    r"\b" + _first_letter_of(lexicon.SWEARING) + "(?:" + "|".join(lexicon.SWEARING) + r")(?!\w)"
)
_DISCRIMINATORY = Caseless(
    r"\b"
    + _first_letter_of(lexicon.DISCRIMINATORY)
    + "(?:"
    + "|".join(lexicon.DISCRIMINATORY)
    + r")\b"
)
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019&-][^\W\d_]+)*")
# Acronyms (NHS, A&E, ICU) are capitals too; shouting is a longer run of them.
_SHOUTING_MIN_WORDS = 3
_SHOUTING_MIN_LETTERS = 15
# Over one byte per word (1: in capitals), the runs that could be shouting.
# Three letters in a row none of which is a lower-case a-z: every run of
# shouting holds one (a word of three capitals), most text none.
_THREE_CAPITALS = re.compile(r"[^\W\d_a-z]{3}")
_RUN_OF_CAPITALS = re.compile(b"\x01{%d,}" % _SHOUTING_MIN_WORDS)


def _language(field: Field, scanned: ScannedText) -> list[LanguageFlag]:
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
    if _THREE_CAPITALS.search(text) is None:
        # Shouting needs words of three letters or more in capitals.
        return []
    words = _WORD.findall(text)
    # Marking the words in C and finding runs with a pattern spares a Python
    # step per word; only a run of several capitalised words is looked at.
    in_capitals = bytes(map(str.isupper, words))
    flags: list[LanguageFlag] = []
    starts: list[int] = []
    for run in _RUN_OF_CAPITALS.finditer(in_capitals):
        if not _is_shouting(words, run.start(), run.end()):
            continue
        # Where each word starts, from the lengths of the words and of what is
        # between them (summed in C), worked out once and only when needed.
        starts = starts or _word_starts(text, words)
        last = run.end() - 1
        start, end = starts[run.start()], starts[last] + len(words[last])
        flags.append(LanguageFlag(field, start, end, text[start:end], LanguageKind.CAPITALS))
    return flags


def _is_shouting(words: list[str], first: int, end: int) -> bool:
    """Enough long words and letters, counted only until both are reached."""
    long_words = letters = 0
    for word in itertools.islice(words, first, end):
        long_words += len(word) >= 3
        letters += sum(c.isalpha() for c in word)
        if long_words >= _SHOUTING_MIN_WORDS and letters >= _SHOUTING_MIN_LETTERS:
            return True
    return False


def _word_starts(text: str, words: list[str]) -> list[int]:
    between = _WORD.split(text)  # len(words) + 1 pieces around the words
    lengths = itertools.chain.from_iterable(zip(map(len, between), map(len, words), strict=False))
    offsets = list(itertools.accumulate(lengths, initial=0))
    # offsets[2 * i + 1] is where word i starts (after i words and i + 1 gaps).
    return offsets[1::2]
