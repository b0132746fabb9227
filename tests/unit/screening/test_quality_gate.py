"""The CI gate of issue 17: screening quality on the held-out split of the corpus.

The split is fixed by a seed (candour_screening.corpus); the rules are tuned on
the dev split only. `bench/screening_quality.py` prints the full table.

The issue's four thresholds are asserted as it sets them: serious recall
100 %, concern recall >= 95 %, identifying-detail recall >= 95 %, false flags
on clean stories <= 10 %.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from candour_screening import SafeguardingLevel, default_screener
from candour_screening.corpus import Scores, parse, score, split

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[2] / "data" / "screening" / "stories.txt"


@pytest.fixture(scope="module")
def held_out() -> Scores:
    stories = parse(CORPUS.read_text(encoding="utf-8"))
    _, held = split(stories)
    screener = default_screener()
    return score(held, lambda s: screener.screen({"body": s.text}))


def test_the_corpus_is_big_enough_and_covers_every_category() -> None:
    stories = parse(CORPUS.read_text(encoding="utf-8"))
    assert len(stories) >= 400
    assert sum(1 for s in stories if s.level is SafeguardingLevel.NONE) >= 150
    dev, held = split(stories)
    assert len(dev) + len(held) == len(stories) and dev and held
    counts: dict[str, int] = {}
    for story in stories:
        for category in story.categories:
            counts[category.value] = counts.get(category.value, 0) + 1
    assert len(counts) == 13
    assert min(counts.values()) >= 15, counts


def test_concern_recall_on_held_out_is_at_least_95_percent(held_out: Scores) -> None:
    assert held_out.by_level[SafeguardingLevel.CONCERN].recall >= 0.95


def test_identifying_detail_recall_on_held_out_is_at_least_95_percent(held_out: Scores) -> None:
    assert held_out.details.recall >= 0.95


def test_false_flags_on_clean_held_out_stories_are_at_most_10_percent(held_out: Scores) -> None:
    assert held_out.false_flag_rate <= 0.10


def test_serious_recall_on_held_out_is_100_percent(held_out: Scores) -> None:
    serious = held_out.by_level[SafeguardingLevel.SERIOUS]
    assert serious.support >= 50
    assert serious.recall == 1.0, f"{serious.false_negative} serious stories screened lower"
