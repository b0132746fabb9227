"""Themes in what people say, found without a fixed list.

TF-IDF over each entry's words and two-word phrases, then non-negative matrix
factorisation (scikit-learn's NMF): each theme is a weighted set of terms, each
entry a weighted mix of themes, and an entry belongs to the theme it leans on
most (or to none, when it leans on nothing). Deterministic for a given seed.

How many themes: unless told, the finder tries a few counts on a sample and keeps
the most stable one (the same themes come out from different starting points);
commissioners can always rename or merge what it finds.

A theme's label is its two strongest terms, preferring a two-word phrase ("crisis
team") over the words it contains. Labels a person gave survive a rebuild when the
new theme's top terms overlap the old one's (`match_previous`).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# numpy, scipy and scikit-learn are imported where a model is built, not here: the
# search service and the CLI import this module, and those imports cost seconds at
# every start for work that runs once a day in a worker process.

# Words every story about care uses: they would only blur the themes.
CARE_WORDS = frozenset(
    """
    care cared caring service services team teams staff hospital trust nhs patient patients
    mum dad mother father son daughter wife husband partner brother sister friend family
    time times year years month months week weeks day days just really like felt feel
    told said asked going got get good bad better worse did does know want wanted think
    thank thanks people person experience experiences way things thing lot help helped
    ago honestly fair sadly overall mixed
    """.split()  # noqa: SIM905 - a paragraph of words reads better than a list of strings
)


@cache
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS | CARE_WORDS | {"n't", "i'm", "i've", "it's", "didn't"})


_WORD = re.compile(r"[a-z][a-z']*[a-z]|[a-z]")


def _terms(text: str) -> list[str]:
    """Words and two-word phrases, never across a dropped word: "kept rescheduling and
    I lost track" gives "kept rescheduling" and "lost track", not "rescheduling lost"."""
    words = _WORD.findall(text.lower())
    stop = _stop_words()
    terms: list[str] = []
    previous: str | None = None
    for word in words:
        if word in stop or len(word) < 3:
            previous = None
            continue
        terms.append(word)
        if previous is not None:
            terms.append(f"{previous} {word}")
        previous = word
    return terms


TOP_TERMS = 8
# An entry whose strongest theme weight is below this share of its total is unthemed.
MIN_SHARE = 0.0
CANDIDATE_COUNTS = (8, 10, 12, 14, 16, 18, 20)
SAMPLE_FOR_CHOICE = 4000


@dataclass(frozen=True, slots=True)
class Theme:
    key: int
    label: str
    terms: tuple[str, ...]
    size: int


@dataclass(frozen=True, slots=True)
class ThemeModel:
    themes: tuple[Theme, ...]
    # For each input entry (in order): (theme key, weight), or None when unthemed.
    assignments: tuple[tuple[int, float] | None, ...]


Progress = Callable[[str], None]


def find_themes(
    texts: Sequence[str],
    *,
    count: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> ThemeModel:
    """Themes of `texts`; `count` themes, or as many as the texts support."""
    import numpy as np
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    say = progress or (lambda message: None)
    if len(texts) < 20:
        return ThemeModel((), tuple(None for _ in texts))
    say(f"vectorising {len(texts):,} entries")
    vectorizer = TfidfVectorizer(
        analyzer=_terms,
        min_df=max(2, len(texts) // 5000),
        max_df=0.4,
        max_features=30_000,
        sublinear_tf=True,
        dtype=np.float32,
    )
    matrix = vectorizer.fit_transform(texts)
    vocabulary = vectorizer.get_feature_names_out()
    if matrix.shape[1] < 10:
        return ThemeModel((), tuple(None for _ in texts))
    if count is None:
        count = _choose_count(matrix, seed, say)
    count = max(2, min(count, matrix.shape[0] // 5, matrix.shape[1]))
    say(f"finding {count} themes")
    model = NMF(n_components=count, init="nndsvda", random_state=seed, max_iter=300, tol=1e-4)
    weights = model.fit_transform(matrix)
    components = model.components_
    say("labelling themes")
    assignments: list[tuple[int, float] | None] = []
    best = weights.argmax(axis=1)
    totals = weights.sum(axis=1)
    for row, key in enumerate(best):
        top = float(weights[row, key])
        if top <= 0 or (totals[row] > 0 and top / totals[row] < MIN_SHARE):
            assignments.append(None)
        else:
            assignments.append((int(key), top))
    sizes = np.bincount([a[0] for a in assignments if a is not None], minlength=count).tolist()
    themes = tuple(
        Theme(key=k, label=_label(terms), terms=terms, size=int(sizes[k]))
        for k in range(count)
        for terms in [_top_terms(components[k], vocabulary)]
    )
    return ThemeModel(themes, tuple(assignments))


def _top_terms(component: np.ndarray, vocabulary: np.ndarray) -> tuple[str, ...]:
    import numpy as np

    order = np.argsort(component)[::-1]
    terms: list[str] = []
    for index in order:
        if component[index] <= 0 or len(terms) >= TOP_TERMS:
            break
        term = str(vocabulary[index])
        # A phrase and its own words say the same thing twice: keep the phrase.
        if any(term in kept.split() for kept in terms if " " in kept):
            continue
        if " " in term:
            terms = [t for t in terms if t not in term.split()]
        terms.append(term)
    return tuple(terms)


def _label(terms: Sequence[str]) -> str:
    if not terms:
        return "unnamed theme"
    phrases = [t for t in terms[:3] if " " in t]
    if phrases:
        return phrases[0]
    return ", ".join(terms[:2])


def _choose_count(matrix: Any, seed: int, say: Progress) -> int:
    """The count whose themes come out the same whatever the starting point.

    For each candidate count, NMF runs from two random starts on a sample; the
    themes of one run are paired with the other's (Hungarian method on cosine
    similarity) and the mean similarity of the pairs is the count's stability. Too
    few themes merge real ones differently each run; too many split them into
    crumbs that differ each run. The most stable count wins.
    """
    import numpy as np
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(seed)
    rows = matrix.shape[0]
    sample = matrix
    if rows > SAMPLE_FOR_CHOICE:
        sample = matrix[rng.choice(rows, SAMPLE_FOR_CHOICE, replace=False)]
    best, best_score = CANDIDATE_COUNTS[0], -math.inf
    for count in CANDIDATE_COUNTS:
        if count >= sample.shape[0] // 5:
            break
        with warnings.catch_warnings():
            # Comparing starting points needs the shape of each run, not its last digit.
            warnings.simplefilter("ignore", ConvergenceWarning)
            runs = [
                NMF(n_components=count, init="random", random_state=seed + i, max_iter=200)
                .fit(sample)
                .components_
                for i in range(2)
            ]
        score = _agreement(runs[0], runs[1])
        say(f"  {count} themes: stability {score:.3f}")
        if score > best_score:
            best, best_score = count, score
    return best


def _agreement(first: np.ndarray, second: np.ndarray) -> float:
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    def unit(m: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        return m / np.where(norms == 0, 1, norms)

    similarity = unit(first) @ unit(second).T
    rows, cols = linear_sum_assignment(-similarity)
    return float(similarity[rows, cols].mean())


def match_previous(
    new: Sequence[Theme], previous: Sequence[tuple[str, Sequence[str]]], *, threshold: float = 0.34
) -> dict[int, str]:
    """Which new theme continues which previous one: new key -> previous id.

    Two themes are the same when their top terms overlap (Jaccard) at least
    `threshold`; each previous theme continues at most once, best overlaps first.
    """
    pairs = []
    for theme in new:
        mine = set(theme.terms)
        for previous_id, terms in previous:
            theirs = set(terms)
            if not mine or not theirs:
                continue
            overlap = len(mine & theirs) / len(mine | theirs)
            if overlap >= threshold:
                pairs.append((overlap, theme.key, previous_id))
    matched: dict[int, str] = {}
    taken: set[str] = set()
    for _, key, previous_id in sorted(pairs, reverse=True):
        if key in matched or previous_id in taken:
            continue
        matched[key] = previous_id
        taken.add(previous_id)
    return matched
