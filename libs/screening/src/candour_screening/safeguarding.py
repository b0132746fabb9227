"""Safeguarding: spaCy's rule-based Matcher over the English tokenizer, lemma-aware.

How a text is screened:

1. A cheap pass finds the sentences that contain any word a rule needs (most
   sentences of most stories contain none, and are not looked at again).
2. Those sentences (each cut to at most `_MAX_CHUNK` characters at a space, so
   the tokenizer never sees a 100 KB run of text) are tokenized by spaCy's
   English tokenizer and matched by one `Matcher` holding every rule's patterns.
3. Each match is judged in its sentence: a negation just before it ("I have
   never felt suicidal") or a topic word around it ("suicide prevention talk")
   drops it; past-and-over wording ("years ago", "used to", "I'm doing well
   now") lowers it to the rule's past level. Overlapping matches keep the most
   severe.

Lemmas: rules name a word once (`save`) and match every inflection of it. The
inflections are the forms spaCy's lookup lemmatizer (spacy-lookups-data) maps
to that lemma, worked out once when the rules are compiled; matching the
surface form against them is what `LEMMA` would match, without running the
lemmatizer over every token of every story (that pass was ~85 % of the time).
"""

from __future__ import annotations

import gzip
import importlib.resources
import itertools
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import spacy
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.matcher import Matcher

from candour_screening.model import Field, SafeguardingMatch
from candour_screening.rules import CONCEPTS, RULES, Rule
from candour_screening.taxonomy import SafeguardingCategory, SafeguardingLevel

# Sentences: split after . ! ? or a line break. Linear: one character class.
_SENTENCE_END = re.compile(r"[.!?\n]+")
# Words as spaCy's tokenizer cuts them ("won't" is `wo n't`), to look up triggers.
_WORD = re.compile(r"[a-z0-9]+(?=n't)|n't|[a-z0-9]+|'[a-z]+")
_MAX_CHUNK = 600
# At most this many sentences of one field are matched. A real story (intake
# takes 20,000 characters) has a few dozen sentences with a rule word; only a
# flood of them (a hostile text) reaches the cap, and its first sentences are
# still screened. This bounds the work on any input.
_MAX_CHUNKS = 64
_NEGATION_WINDOW = 3
_TOPIC_WINDOW = 2
_CONTRACTIONS = {
    "wo": "will",
    "ca": "can",
    "n't": "not",
    "'ll": "will",
    "'ve": "have",
    "'m": "be",
    "'s": "be",
    "'re": "be",
    "'d": "would",
}
_PRESENT_CUES = frozenset(
    {"again", "still", "tonight", "now", "today", "currently", "keep", "keeps", "every"}
)
_PAST_PHRASES = (
    ("used", "to"),
    ("when", "i", "was"),
    ("in", "the", "past"),
    ("back", "in"),
    ("as", "a", "teenager"),
    ("as", "a", "child"),
    ("in", "my"),
    ("last", "year"),
    ("last", "spring"),
    ("years", "ago"),
)


def _lemma_table() -> dict[str, str]:
    """spaCy's English lookup lemmatizer table (form -> lemma), from spacy-lookups-data."""
    data = importlib.resources.files("spacy_lookups_data") / "data" / "en_lemma_lookup.json.gz"
    with data.open("rb") as raw:
        table: dict[str, str] = json.loads(gzip.decompress(raw.read()))
    return table


@dataclass(frozen=True, slots=True)
class _Pattern:
    rule: Rule
    matcher: Matcher  # holding this one pattern


@dataclass(frozen=True, slots=True)
class _Compiled:
    # Each pattern filed under the words one of which every match of it holds:
    # a sentence is matched only against the patterns whose words it has (a
    # Matcher tries every pattern it holds at every token).
    by_trigger: dict[str, tuple[_Pattern, ...]]
    trigger_words: frozenset[str]


class SafeguardingMatcher:
    """Compiled once (about half a second); then `matches()` per field, pure."""

    def __init__(self) -> None:
        self._nlp = spacy.blank("en")
        lemmas = _lemma_table()
        inflections: dict[str, set[str]] = defaultdict(set)
        for form, lemma in lemmas.items():
            inflections[lemma.lower()].add(form.lower())
        self._inflections = inflections
        self._compiled = self._compile()

    def forms(self, word: str) -> set[str]:
        """Every form the lookup lemmatizer takes to `word`'s lemma, and the word."""
        word = word.lower()
        lemma = _CONTRACTIONS.get(word) or word
        found = {word, lemma} | self._inflections.get(lemma, set())
        found |= {form for form, full in _CONTRACTIONS.items() if full == lemma}
        return found

    def _compile(self) -> _Compiled:
        by_trigger: dict[str, list[_Pattern]] = defaultdict(list)
        for rule in RULES:
            for source in rule.patterns:
                pattern, words = self._pattern(source)
                matcher = Matcher(self._nlp.vocab, validate=True)
                matcher.add("match", [pattern])
                for word in words:
                    by_trigger[word].append(_Pattern(rule, matcher))
        return _Compiled(
            {word: tuple(patterns) for word, patterns in by_trigger.items()},
            frozenset(by_trigger),
        )

    def _pattern(self, source: str) -> tuple[list[dict[str, Any]], set[str]]:
        """The Matcher pattern, and the words that must be in a sentence for it to match."""
        tokens: list[dict[str, Any]] = []
        required: list[set[str]] = []
        for item in source.split():
            if item.startswith("*"):
                tokens.append({"OP": f"{{0,{int(item[1:])}}}"})
                continue
            optional = item.endswith("?") and len(item) > 1
            item = item.rstrip("?") if optional else item
            if item.startswith("@"):
                choices = {f for w in CONCEPTS[item[1:]] for f in self.forms(w)}
            else:
                choices = {f for w in item.split("/") for f in self.forms(w)}
            token: dict[str, Any] = {"LOWER": {"IN": sorted(choices)}}
            if optional:
                token["OP"] = "?"
            else:
                required.append(choices)
            tokens.append(token)
        return tokens, _distinctive(required)

    def matches(self, field: Field, text: str) -> list[SafeguardingMatch]:
        found: list[SafeguardingMatch] = []
        compiled = self._compiled
        # Curly apostrophes as straight ones (one character for one: offsets hold).
        plain = text.replace("\u2019", "'")
        chunks = _candidate_chunks(plain, compiled.trigger_words)
        for start, end, words in itertools.islice(chunks, _MAX_CHUNKS):
            patterns: dict[int, _Pattern] = {}
            for word in words:
                for pattern in compiled.by_trigger[word]:
                    patterns[id(pattern)] = pattern
            doc = self._nlp.make_doc(plain[start:end])
            lowers = [t.lower_ for t in doc]
            for pattern in patterns.values():
                for _, first, last in pattern.matcher(doc):
                    found.extend(
                        self._judged(field, text, start, doc, pattern.rule, lowers, first, last)
                    )
        return _keep_most_severe(found)

    def _judged(
        self,
        field: Field,
        text: str,
        start: int,
        doc: Any,
        rule: Rule,
        lowers: list[str],
        first: int,
        last: int,
    ) -> Iterator[SafeguardingMatch]:
        level = _judge(rule, lowers, first, last)
        if level is None:
            return
        span = doc[first:last]
        begin = start + span.start_char
        finish = start + span.end_char
        reason = rule.reason
        if level is not rule.level and rule.level is SafeguardingLevel.SERIOUS:
            reason = f"{rule.reason}, in the past"
        yield SafeguardingMatch(
            field, begin, finish, text[begin:finish], rule.category, level, reason
        )


def _distinctive(required: list[set[str]]) -> set[str]:
    """The forms of one required item: the one least likely to be in any sentence.

    Every match of the pattern holds one of these words, so a sentence without
    any of them cannot match and is not tokenized at all.
    """
    plain = [c for c in required if all(_WORD.fullmatch(f) for f in c)]
    candidates = plain or required
    content = [c for c in candidates if not c & STOP_WORDS] or candidates
    return min(content, key=len)


def _candidate_chunks(text: str, triggers: frozenset[str]) -> Iterator[tuple[int, int, set[str]]]:
    """Sentences holding a rule's word, each at most `_MAX_CHUNK` characters, with
    the trigger words each holds."""
    lower = text.lower()
    if len(lower) != len(text) or triggers.isdisjoint(_WORD.findall(lower)):
        # (lower() changes the length of a few characters, such as "İ"; such a
        # text is matched as it is, so offsets stay right.)
        if len(lower) == len(text):
            return
        lower = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    position = 0
    for end_mark in _SENTENCE_END.finditer(lower):
        yield from _pieces(lower, position, end_mark.end(), triggers)
        position = end_mark.end()
    if position < len(lower):
        yield from _pieces(lower, position, len(lower), triggers)


def _pieces(
    lower: str, start: int, end: int, triggers: frozenset[str]
) -> Iterator[tuple[int, int, set[str]]]:
    while start < end:
        stop = min(end, start + _MAX_CHUNK)
        if stop < end:
            space = lower.rfind(" ", start + _MAX_CHUNK // 2, stop)
            stop = space + 1 if space > 0 else stop
        words = set(triggers.intersection(_WORD.findall(lower, start, stop)))
        if words:
            yield start, stop, words
        start = stop


def _judge(rule: Rule, lowers: list[str], first: int, last: int) -> SafeguardingLevel | None:
    """The match's level in its sentence, or None when the context cancels it."""
    before = lowers[max(0, first - _NEGATION_WINDOW) : first]
    negations = CONCEPT_NEGATION
    if any(w in _HYPOTHETICAL for w in before):
        return None
    if rule.negatable and any(w in negations for w in before):
        # "don't want to live" is itself the disclosure; only a negation
        # before the whole phrase cancels it.
        return None
    around = lowers[max(0, first - _TOPIC_WINDOW) : first] + lowers[last : last + _TOPIC_WINDOW]
    if rule.level is SafeguardingLevel.SERIOUS and any(w in CONCEPT_TOPIC for w in around):
        return None
    if rule.past_level is not None and _past_and_over(lowers):
        return rule.past_level
    return rule.level


def _past_and_over(lowers: list[str]) -> bool:
    words = set(lowers)
    if words & _PRESENT_CUES and not words & CONCEPT_RECOVERED:
        return False
    if words & CONCEPT_PAST_WORDS:
        return True
    if any(_has_phrase(lowers, phrase) for phrase in _PAST_PHRASES):
        return True
    return bool(words & CONCEPT_RECOVERED) and bool(words & {"since", "now", "these"})


def _has_phrase(words: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1))


CONCEPT_NEGATION = frozenset(CONCEPTS["NEGATION"])
CONCEPT_TOPIC = frozenset(CONCEPTS["TOPIC"])
CONCEPT_RECOVERED = frozenset(CONCEPTS["RECOVERED"])
CONCEPT_PAST_WORDS = frozenset({"ago", "decades", "previously", "formerly"})
# "what to do if I missed a dose": a hypothetical, not a disclosure.
_HYPOTHETICAL = frozenset({"if", "whether", "case"})


def _keep_most_severe(found: list[SafeguardingMatch]) -> list[SafeguardingMatch]:
    """Of overlapping matches keep the most severe; ties go to the longer span."""
    found.sort(key=lambda m: (-m.level.severity, -(m.end - m.start), m.start))
    kept: list[SafeguardingMatch] = []
    for match in found:
        if all(match.end <= k.start or match.start >= k.end for k in kept):
            kept.append(match)
    return sorted(kept, key=lambda m: m.start)


__all__ = ["SafeguardingCategory", "SafeguardingLevel", "SafeguardingMatcher"]
