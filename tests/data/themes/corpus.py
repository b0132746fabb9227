"""A generated corpus with known themes, for measuring the theme finder.

Each entry is mostly one theme's sentences (its label), with general sentences
about care around them and, in about a third of entries, one sentence of another
theme, as people mix subjects. Phrases come from `known_themes.json`; small
variations (who it was about, when, hedges) keep entries from repeating word for
word. Seeded: the same `seed` gives the same corpus.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

KNOWN_THEMES = Path(__file__).with_name("known_themes.json")

_OPENERS = ("", "", "", "Honestly, ", "To be fair, ", "Sadly, ", "Again, ", "Also, ")
_WHO = ("my son", "my daughter", "my dad", "my wife", "my friend", "me", "my husband")
# General sentences are put together from parts, so that they never repeat often
# enough word for word to look like a theme of their own.
_SUBJECTS = (
    "I",
    "We",
    "My family",
    "My brother",
    "Our daughter",
    "My neighbour",
    "My aunt",
    "He",
    "She",
)
_VERBS = (
    "have been with",
    "started with",
    "was referred to",
    "moved to",
    "went back to",
    "was passed to",
    "first heard about",
    "had contact with",
    "was under",
)
_PLACES = (
    "the community team",
    "the local service",
    "the hospital",
    "the unit",
    "the clinic",
    "the practice",
    "the memory service",
    "the early intervention team",
    "the adult service",
)
_WHEN = (
    "last spring",
    "in the summer",
    "two years ago",
    "after Christmas",
    "in March",
    "a while back",
    "at the start of the year",
    "some months ago",
    "in the autumn",
)


@dataclass(frozen=True, slots=True)
class LabelledEntry:
    text: str
    theme: str


def load() -> dict[str, list[str]]:
    data = json.loads(KNOWN_THEMES.read_text())
    return {"general": data["general"], **data["themes"]}


def generate(count: int, *, seed: int = 7) -> list[LabelledEntry]:
    rng = random.Random(seed)
    phrases = load()
    general = phrases.pop("general")
    names = sorted(phrases)
    # Some themes are talked about far more than others.
    weights = [1.0 / (1 + i * 0.15) for i in range(len(names))]
    entries = []
    for _ in range(count):
        theme = rng.choices(names, weights)[0]
        sentences = [_vary(rng, s) for s in rng.sample(phrases[theme], rng.randint(2, 3))]
        sentences += [_general(rng, general) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.33:
            other = rng.choice([n for n in names if n != theme])
            sentences.append(_vary(rng, rng.choice(phrases[other])))
        rng.shuffle(sentences)
        entries.append(LabelledEntry(" ".join(sentences), theme))
    return entries


def _general(rng: random.Random, fixed: list[str]) -> str:
    if rng.random() < 0.3:
        return rng.choice(fixed)
    return (
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_PLACES)} {rng.choice(_WHEN)}."
    )


def _vary(rng: random.Random, sentence: str) -> str:
    opener = rng.choice(_OPENERS)
    if opener:
        sentence = opener + sentence[0].lower() + sentence[1:]
    if rng.random() < 0.2:
        sentence = sentence.rstrip(".") + f", for {rng.choice(_WHO)}."
    return sentence
