"""Phrases of the lexicon expanded into every way they can be written.

A rule names a word once (`save`) and matches every inflection of it (saves,
saving, saved). The inflections are the forms spaCy's English lookup
lemmatizer (spacy-lookups-data) takes to that lemma, plus the regular -s, -ed
and -ing forms (the lookup table misses some: it takes "putting" to "putt").
Working the forms out once, when the rules are built, lets matching compare
lower-cased tokens with spaCy's PhraseMatcher, in one linear pass, instead of
lemmatizing every token of every story.
"""

from __future__ import annotations

import gzip
import importlib.resources
import itertools
import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping

# Words that never inflect here: pronouns, determiners, auxiliaries, prepositions,
# conjunctions, and contractions' halves as spaCy's tokenizer cuts them.
CLOSED_CLASS = frozenset(
    """
    i me my mine myself you your yours yourself he him his himself she her hers herself it
    its itself we us our ours ourselves they them their theirs themselves themself this that
    these those a an the to of in on at by for with from into onto up down out off over
    under about as and or but if not no never n't 's 'm 're 've 'd 'll be am is are was were
    been being do does did have has had will would can could should may might must shall wo
    ca so than then there here when where who whom whose which what why how all any each
    every some one nobody anyone anybody everyone everybody someone somebody nothing
    anything everything something else again still just only own such too very much more
    most less least enough very now once ever back away aside around through between
    before after until while because though although since
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
# A phrase may expand to at most this many variants (a guard against a typo
# such as a group where a word was meant).
MAX_VARIANTS = 5000
_WORD = re.compile(r"[a-z]+")
_SHORT_DOUBLING = re.compile(r"(?:^|[^aeiou])[aeiou][bdgklmnprt]$")


class Inflector:
    """Every form of a word, from spaCy's English lookup lemmatizer table."""

    def __init__(self) -> None:
        data = importlib.resources.files("spacy_lookups_data") / "data" / "en_lemma_lookup.json.gz"
        with data.open("rb") as raw:
            table: dict[str, str] = json.loads(gzip.decompress(raw.read()))
        self._lemma = {form.lower(): lemma.lower() for form, lemma in table.items()}
        inflections: dict[str, set[str]] = defaultdict(set)
        for form, lemma in self._lemma.items():
            inflections[lemma].add(form)
        self._inflections = inflections

    def forms(self, word: str, *, noun: bool = False) -> set[str]:
        """`word` and its inflections; a noun's plural only."""
        word = word.lower()
        if word in CLOSED_CLASS or not _WORD.fullmatch(word) or len(word) < 3:
            return {word}
        if noun:
            return {word, *_plurals(word)}
        lemma = self._lemma.get(word, word)
        found = {word, lemma, *self._inflections.get(lemma, ())}
        found |= _regular(lemma)
        return found


def _plurals(word: str) -> set[str]:
    if word.endswith(("s", "sh", "ch", "x", "z")):
        return {word + "es"}
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return {word[:-1] + "ies"}
    return {word + "s"}


def _regular(lemma: str) -> set[str]:
    """The regular verb forms (over-generating is harmless: a form no one writes)."""
    forms = _plurals(lemma)
    if lemma.endswith("ie"):
        forms |= {lemma + "d", lemma[:-2] + "ying"}
    elif lemma.endswith("e"):
        forms |= {lemma + "d", lemma[:-1] + "ing", lemma + "ing"}
    elif lemma.endswith("y") and lemma[-2:-1] not in ("a", "e", "i", "o", "u"):
        forms |= {lemma[:-1] + "ied", lemma + "ing"}
    else:
        forms |= {lemma + "ed", lemma + "ing"}
        if _SHORT_DOUBLING.search(lemma):
            forms |= {lemma + lemma[-1] + "ed", lemma + lemma[-1] + "ing"}
    return forms


def expand(
    phrase: str,
    inflector: Inflector,
    groups: Mapping[str, tuple[str, ...]],
    *,
    noun: bool = False,
) -> Iterator[str]:
    """Every variant of a lexicon phrase (see `concepts` for the notation)."""
    slots: list[list[str]] = []
    verb_seen = noun
    for item in phrase.split():
        optional = item.endswith("?") and len(item) > 1
        item = item[:-1] if optional else item
        choices: set[str] = set()
        open_class = False
        for alternative in item.split("/"):
            if alternative.startswith("@"):
                for word in groups[alternative[1:]]:
                    choices |= inflector.forms(word, noun=True)
            elif alternative.startswith("=") and len(alternative) > 1:
                choices.add(alternative[1:].lower())
            else:
                choices |= inflector.forms(alternative, noun=verb_seen)
                open_class = open_class or alternative.lower() not in CLOSED_CLASS
        verb_seen = verb_seen or open_class
        slots.append(sorted(choices) + ([""] if optional else []))
    count = 1
    for slot in slots:
        count *= len(slot)
    if count > MAX_VARIANTS:
        raise ValueError(f"{phrase!r} expands to {count} variants (at most {MAX_VARIANTS})")
    for words in itertools.product(*slots):
        variant = " ".join(w for w in words if w)
        if variant:
            yield variant
