"""`candour dev`'s demo "about you" answers give the deep dive a voices view to show."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from candour_cli import demo
from candour_common.about_you import Characteristic
from candour_intake.voices import AnswerCount, summarise
from candour_search.population import load_population
from candour_search.voices import voices_view

pytestmark = pytest.mark.unit


def test_the_demo_answers_name_who_bradford_hears_less_from() -> None:
    entries = demo.demo_feedback()
    assert len({e.command.external_id for e in entries}) == len(entries)
    directory = {s.id: s.programme for o in demo.demo_directory() for s in o.services}
    tally: Counter[tuple[Characteristic, str]] = Counter()
    for entry in entries:
        assert entry.command.about_you is not None
        assert directory[entry.command.service_id or ""] == "mental-health"
        for characteristic, answer in entry.command.about_you.answers().items():
            if answer is not None:
                tally[(characteristic, answer)] += 1
    counts = [AnswerCount("mental-health", c, a, n) for (c, a), n in tally.items()]
    [summary] = summarise(["mental-health"], counts, datetime.now(UTC))
    population = load_population(Path(demo.population_csv_path()))
    view = voices_view(
        "mental-health", summary, "Bradford", population.areas, population.of("Bradford")
    )
    assert "Asian, Asian British or Asian Welsh" in view.sentence()
