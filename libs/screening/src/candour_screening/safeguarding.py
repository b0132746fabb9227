"""Safeguarding: concepts found by spaCy's PhraseMatcher, combined by bounded proximity.

How one field is screened:

1. spaCy's English tokenizer cuts the text into tokens (at most the first
   `MAX_CHARS` characters: a story is at most 20,000; anything longer is hostile,
   and the limit is reported).
2. One `PhraseMatcher` over the lower-cased tokens finds every phrase of every
   concept of the lexicon (`concepts`), each phrase already expanded into its
   inflections (`inflection`). This is one linear pass, in Cython.
3. The hits are filed by concept, in text order, at most `MAX_HITS` per concept.
4. Each rule (`rules`) starts from its anchor concept's hits and looks for its
   other concepts within a few tokens in the same sentence (a bisection in a
   sorted list), then judges the match in its sentence: negation, hypothetical,
   topic, past and over, danger now. The work per field is bounded: at most
   `MAX_EVALUATIONS` anchors are tried and `MAX_MATCHES` matches kept per
   category; when a bound is reached the result says so (`limits`).

So a field costs one tokenizer pass and one matcher pass, and a bounded number
of small checks: linear in the text whatever it holds.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass

import spacy
from spacy.matcher import PhraseMatcher

from candour_screening.concepts import CONCEPTS, GROUPS
from candour_screening.explanations import (
    ABOUT_SOMEONE_ELSE,
    DANGER_NOW,
    FIRST_MATCHES_ONLY,
    IN_THE_PAST,
    ONLY_FIRST_CHARACTERS,
    PHRASE_TOO_OFTEN,
    STOPPED_AFTER,
)
from candour_screening.inflection import Inflector, expand
from candour_screening.model import Field, SafeguardingMatch
from candour_screening.rules import NOUN_CONCEPTS, RULES, Near, Rule
from candour_screening.taxonomy import CATEGORY_LABELS, SafeguardingCategory, SafeguardingLevel

# Intake takes at most 20,000 characters of story; the rest of a longer text
# (only a hostile one) is not screened for safeguarding, and the result says so.
MAX_CHARS = 20_000
# Per field: hits kept per concept, anchors tried, matches kept per category.
MAX_HITS = 200
MAX_EVALUATIONS = 1_500
MAX_MATCHES = 10
# Sentence ends, and how far either side of a match a sentence is looked for.
_BREAKS = (".", "!", "?", "...", "\n", "\n\n", "\n\n\n", ";\n")
_MAX_BREAKS = 10_000
_SENTENCE_REACH = 50
_LONGEST_PHRASE = 8
_NEGATION_REACH = 3
_QUESTION_REACH = 8
_TOPIC_REACH = 2
# spaCy's tokenizer strips prefixes and suffixes one at a time, copying the rest
# each time: a long run of them (apostrophes, "'s's's...") costs the square of
# its length (2,000 apostrophes: ~0.4 s). No word of a story is longer than 40
# characters or carries more than 6 punctuation marks; such runs are blanked
# (the same number of spaces, so offsets hold) before tokenizing. The pattern
# starts only where a run starts, and its parts cannot overlap: linear.
_NOT_LANGUAGE = re.compile(r"(?<!\S)(?:\S{41,}|(?:\w*[^\w\s]){7}\S*)")
_THIRD_PERSON = frozenset(
    {"he", "she", "they", "him", "her", "them", "his", "their", "himself", "herself"}
)
_THIRD_PERSON |= frozenset({"themselves"})


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int


class _Hits:
    """Each concept's hits in one field, in text order, with their starts for bisection."""

    def __init__(self) -> None:
        self.spans: dict[str, list[_Span]] = defaultdict(list)
        self.starts: dict[str, list[int]] = defaultdict(list)
        self.full: set[str] = set()

    def add(self, concept: str, start: int, end: int, cap: int) -> None:
        starts = self.starts[concept]
        if len(starts) >= cap:
            self.full.add(concept)
            return
        starts.append(start)
        self.spans[concept].append(_Span(start, end))

    def within(self, concept: str, low: int, high: int) -> list[_Span]:
        """Hits of `concept` starting in [low, high)."""
        starts = self.starts.get(concept)
        if not starts:
            return []
        first = bisect.bisect_left(starts, low)
        last = bisect.bisect_left(starts, high, first)
        return self.spans[concept][first:last]

    def any_within(self, concepts: tuple[str, ...], low: int, high: int) -> bool:
        for concept in concepts:
            starts = self.starts.get(concept)
            if starts:
                i = bisect.bisect_left(starts, low)
                if i < len(starts) and starts[i] < high:
                    return True
        return False


@dataclass(frozen=True, slots=True)
class _Sentence:
    start: int
    end: int


class SafeguardingMatcher:
    """Built once (about a second: the lexicon is expanded and compiled); then
    `matches()` per field, pure."""

    def __init__(self) -> None:
        nlp = spacy.blank("en")
        self._tokenizer = nlp.tokenizer
        self._matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        inflector = Inflector()
        for concept, phrases in CONCEPTS.items():
            noun = concept in NOUN_CONCEPTS
            variants = sorted(
                {v for phrase in phrases for v in expand(phrase, inflector, GROUPS, noun=noun)}
            )
            self._matcher.add(concept, [nlp.make_doc(v) for v in variants])
        self._matcher.add("BREAK", [nlp.make_doc(b) for b in _BREAKS])
        self._names = {nlp.vocab.strings[name]: name for name in (*CONCEPTS, "BREAK")}
        self._check_rules()

    @staticmethod
    def _check_rules() -> None:
        for rule in RULES:
            named = [rule.anchor, *rule.unless, *(c for n in rule.near for c in n.concepts)]
            unknown = [c for c in named if c not in CONCEPTS]
            if unknown:
                raise ValueError(f"rule {rule.reason!r} names unknown concepts {unknown}")

    def matches(self, field: Field, text: str) -> tuple[list[SafeguardingMatch], list[str]]:
        """The matches in one field, and the limits reached screening it (if any)."""
        limits: list[str] = []
        screened = text
        if len(text) > MAX_CHARS:
            screened = text[:MAX_CHARS]
            limits.append(
                ONLY_FIRST_CHARACTERS.format(
                    field=field, shown=f"{MAX_CHARS:,}", total=f"{len(text):,}"
                )
            )
        doc = self._tokenizer(_speakable(screened))
        hits = _Hits()
        names = self._names
        for label, start, end in self._matcher(doc):
            name = names[label]
            hits.add(name, start, end, _MAX_BREAKS if name == "BREAK" else MAX_HITS)
        found = self._apply_rules(doc, hits, field, text, limits)
        return _keep_one_per_place(found), limits

    def _apply_rules(
        self, doc: spacy.tokens.Doc, hits: _Hits, field: Field, text: str, limits: list[str]
    ) -> list[SafeguardingMatch]:
        found: list[SafeguardingMatch] = []
        kept: dict[SafeguardingCategory, int] = defaultdict(int)
        budget = MAX_EVALUATIONS
        capped: set[SafeguardingCategory] = set()
        for rule in RULES:
            for anchor in hits.spans.get(rule.anchor, ()):
                if kept[rule.category] >= MAX_MATCHES:
                    capped.add(rule.category)
                    break
                if budget == 0:
                    limits.append(STOPPED_AFTER.format(field=field, count=f"{MAX_EVALUATIONS:,}"))
                    return found
                budget -= 1
                match = _evaluate(rule, anchor, hits, len(doc))
                if match is None:
                    continue
                level, span = match
                begin, finish = doc[span.start].idx, doc[span.end - 1].idx + len(doc[span.end - 1])
                reason = _reason(rule, level, doc, span)
                found.append(
                    SafeguardingMatch(
                        field, begin, finish, text[begin:finish], rule.category, level, reason
                    )
                )
                kept[rule.category] += 1
        if hits.full - {"BREAK"}:
            limits.append(PHRASE_TOO_OFTEN.format(field=field, count=MAX_HITS))
        for category in sorted(capped):
            limits.append(
                FIRST_MATCHES_ONLY.format(
                    field=field, count=MAX_MATCHES, category=CATEGORY_LABELS[category]
                )
            )
        return found


def _speakable(text: str) -> str:
    """The text as the tokenizer should see it, character for character: curly
    apostrophes straight, and runs that are not language blanked."""
    text = text.replace("\u2019", "'")
    return _NOT_LANGUAGE.sub(lambda m: " " * (m.end() - m.start()), text)


def _evaluate(
    rule: Rule, anchor: _Span, hits: _Hits, length: int
) -> tuple[SafeguardingLevel, _Span] | None:
    """The level and span of a match at `anchor`, or None when it does not hold."""
    sentence = _sentence_of(hits, anchor, length)
    parts = [anchor]
    for condition in rule.near:
        partner = _partner(condition, anchor, hits, sentence)
        if partner is None:
            return None
        parts.append(partner)
    # A negation before the whole match ("never felt like harming myself");
    # one inside it ("haven't taken my meds") is part of what it says.
    first = min(p.start for p in parts)
    negation_from = max(sentence.start, first - _NEGATION_REACH)
    if rule.negatable and hits.any_within(("NEGATION", "HYPOTHETICAL"), negation_from, first):
        return None
    question_from = max(sentence.start, first - _QUESTION_REACH)
    if rule.negatable and hits.any_within(("QUESTION",), question_from, first):
        return None
    for part in parts:
        # A topic beside any part ("suicide prevention talk", "advice on storing
        # painkillers"), or starting inside it, makes it a mention, not a disclosure.
        low = max(sentence.start, part.start - _TOPIC_REACH)
        if hits.any_within(("TOPIC",), low, min(sentence.end, part.end + _TOPIC_REACH)):
            return None
    if rule.unless and hits.any_within(rule.unless, sentence.start, sentence.end):
        return None
    level = rule.level
    if rule.escalates and hits.any_within(("DANGER",), sentence.start, sentence.end):
        level = SafeguardingLevel.SERIOUS
    elif rule.past_level is not None and _past_and_over(hits, sentence):
        level = rule.past_level
    return level, _Span(min(p.start for p in parts), max(p.end for p in parts))


def _sentence_of(hits: _Hits, anchor: _Span, length: int) -> _Sentence:
    """The tokens of the anchor's sentence (at most `_SENTENCE_REACH` either side)."""
    start = max(0, anchor.start - _SENTENCE_REACH)
    end = min(length, anchor.end + _SENTENCE_REACH)
    before = hits.within("BREAK", start, anchor.start)
    if before:
        start = before[-1].end
    after = hits.within("BREAK", anchor.end, end)
    if after:
        end = after[0].start
    return _Sentence(start, end)


def _partner(condition: Near, anchor: _Span, hits: _Hits, sentence: _Sentence) -> _Span | None:
    """The nearest hit of the condition's concepts within its window, in the sentence."""
    # Hits are found by where they start; a partner before the anchor may be a
    # few tokens long, hence the slack.
    low = max(sentence.start, anchor.start - condition.window - _LONGEST_PHRASE)
    high = min(sentence.end, anchor.end + condition.window + 1)
    if condition.side == "after":
        low = anchor.start + 1
    elif condition.side == "before":
        high = anchor.start
    best: _Span | None = None
    best_gap = condition.window + 1
    for concept in condition.concepts:
        for span in hits.within(concept, low, high):
            if span.end > sentence.end or span == anchor:
                continue
            if span.start >= anchor.end:
                gap = span.start - anchor.end
            elif span.end <= anchor.start:
                gap = anchor.start - span.end
            else:
                gap = 0  # overlapping: "left in wet clothes" holds both
            if gap < best_gap:
                best, best_gap = span, gap
    return best


def _past_and_over(hits: _Hits, sentence: _Sentence) -> bool:
    """The sentence says it happened before and is over, and nothing says it is now."""
    if not hits.any_within(("PAST", "RECOVERED"), sentence.start, sentence.end):
        return False
    return not hits.any_within(("PRESENT",), sentence.start, sentence.end)


def _reason(rule: Rule, level: SafeguardingLevel, doc: spacy.tokens.Doc, span: _Span) -> str:
    """The rule's reason, said more exactly (`explanations` says it in Welsh too)."""
    reason = rule.reason
    if level is not rule.level:
        said = IN_THE_PAST if level is SafeguardingLevel.CONCERN else DANGER_NOW
        reason = said.format(reason=reason)
    if rule.category in (SafeguardingCategory.SUICIDE, SafeguardingCategory.SELF_HARM):
        words = {t.lower_ for t in doc[span.start : span.end]}
        if words & _THIRD_PERSON and not words & {"i", "me", "my", "myself"}:
            reason = ABOUT_SOMEONE_ELSE.format(reason=reason)
    return reason


def _keep_one_per_place(found: list[SafeguardingMatch]) -> list[SafeguardingMatch]:
    """Of overlapping matches of one category keep the most severe (then the longer);
    different categories at one place are each kept: each needs its own look."""
    found.sort(key=lambda m: (-m.level.severity, -(m.end - m.start), m.start))
    kept: list[SafeguardingMatch] = []
    for match in found:
        if all(
            k.category is not match.category or match.end <= k.start or match.start >= k.end
            for k in kept
        ):
            kept.append(match)
    return sorted(kept, key=lambda m: (m.field, m.start, m.category))


__all__ = ["MAX_CHARS", "SafeguardingMatcher"]
