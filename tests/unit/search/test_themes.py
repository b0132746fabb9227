"""The theme finder on a corpus with known themes, and how names survive a rebuild."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from sklearn.metrics import normalized_mutual_info_score

from candour_search.themes import Theme, find_themes, match_previous
from tests.data.themes.corpus import generate

pytestmark = pytest.mark.unit


def _scores(count: int, seed: int) -> tuple[float, float, int]:
    entries = generate(count, seed=seed)
    model = find_themes([e.text for e in entries], seed=0)
    found = [a[0] if a else -1 for a in model.assignments]
    known = [e.theme for e in entries]
    clusters: dict[int, Counter[str]] = defaultdict(Counter)
    for theme, label in zip(found, known, strict=True):
        clusters[theme][label] += 1
    purity = sum(c.most_common(1)[0][1] for c in clusters.values()) / len(known)
    return normalized_mutual_info_score(known, found), purity, len(model.themes)


def test_themes_found_without_a_list_match_the_known_ones() -> None:
    nmi, purity, themes = _scores(3000, seed=21)
    assert nmi >= 0.6, f"NMI {nmi:.3f}"
    assert purity >= 0.6, f"purity {purity:.3f}"
    assert 8 <= themes <= 20


def test_the_same_seed_finds_the_same_themes() -> None:
    texts = [e.text for e in generate(800, seed=4)]
    first = find_themes(texts, count=8, seed=3)
    second = find_themes(texts, count=8, seed=3)
    assert first == second


def test_a_theme_is_labelled_by_its_strongest_terms_and_phrases_win() -> None:
    texts = [e.text for e in generate(1500, seed=9)]
    model = find_themes(texts, count=12, seed=0)
    labels = {t.label for t in model.themes}
    assert any(" " in label for label in labels)
    for theme in model.themes:
        assert theme.terms, theme
        # A phrase and one of its own words are never both listed.
        for term in theme.terms:
            if " " in term:
                assert not set(term.split()) & set(theme.terms), theme.terms


def test_too_little_text_finds_no_themes() -> None:
    model = find_themes(["short", "also short"], seed=0)
    assert model.themes == ()
    assert model.assignments == (None, None)


def test_a_rebuilt_theme_keeps_the_name_people_gave_it() -> None:
    new = [
        Theme(0, "crisis line", ("crisis line", "rang", "night", "answered"), 10),
        Theme(1, "waiting list", ("waiting list", "referral", "wait", "long"), 8),
        Theme(2, "food, ward", ("food", "ward", "cold", "choice"), 5),
    ]
    previous = [
        ("t-crisis", ("crisis line", "rang", "answered", "hours")),
        ("t-parking", ("parking", "car park", "spaces")),
        ("t-waits", ("waiting list", "referral", "months", "wait")),
    ]
    assert match_previous(new, previous) == {0: "t-crisis", 1: "t-waits"}
