"""The CI gate of issue 17: screening quality on the held-out split of the corpus.

The split is fixed by a seed (candour_screening.corpus); the rules are tuned on
the dev split only. `bench/screening_quality.py` prints the full table.

The gate the issue sets (serious recall 100 %, concern recall 95 %, identifying
details 95 %, false flags on clean stories <= 10 %) is NOT met yet: its test is
marked as an expected failure, strictly, so the day it passes it must be
unmarked. Until then a floor at today's held-out figures stops regressions.
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


@pytest.mark.xfail(strict=True, reason="issue 17's gate is not met yet on held-out")
def test_issue_17_gate_on_held_out(held_out: Scores) -> None:
    assert held_out.by_level[SafeguardingLevel.SERIOUS].recall == 1.0
    assert held_out.by_level[SafeguardingLevel.CONCERN].recall >= 0.95
    assert held_out.details.recall >= 0.95
    assert held_out.false_flag_rate <= 0.10


def test_held_out_quality_does_not_fall_below_todays(held_out: Scores) -> None:
    # Today's held-out figures (see bench/results.md), rounded down: a floor.
    assert held_out.by_level[SafeguardingLevel.SERIOUS].recall >= 0.76
    assert held_out.by_level[SafeguardingLevel.CONCERN].recall >= 0.65
    assert held_out.details.recall >= 0.85
    assert held_out.false_flag_rate <= 0.10
