"""Screening runs in linear time on any input (issue 16): no pattern backtracks.

Each 100 KB adversarial string is screened in under 50 ms. That bound is the
issue's; on a shared, loaded CI machine it is generous for most inputs (see
bench/screening_bench.py --adversarial for the measured worst case). Before
the fix, `"a." * 50000 + "@"` took ~9 s (the email pattern rescanned the run
from every position) and a run of phone-like numbers ~3 s.
"""

from __future__ import annotations

import time

import pytest

from candour_screening import default_screener

pytestmark = pytest.mark.unit

BOUND_S = 0.050
SIZE = 100_000

ADVERSARIAL = {
    "dotted run before an @": "a." * 50_000 + "@",
    "@ then a dotted domain": "@" + "a." * 49_999,
    "digits": "1" * SIZE,
    "digits and spaces": "1 " * 50_000,
    "digits and dashes": "1-" * 50_000,
    "phone-shaped numbers": "07700 900123 " * 7_692,
    "capitals and spaces": "A " * 50_000,
    "words in capitals": "SHOUT LOUDLY NOW " * 5_882,
    "titles with no name": "Dr " * 33_333,
    "title then one long name": "Dr A" + "a" * (SIZE - 4),
    "local parts and @s": ("a" * 64 + "@") * 1_538,
    "trigger words": "pills " * 16_666,
    "trigger words without spaces": "pills." * 16_666,
    "one long sentence of triggers": "I want to die and " * 5_555,
    "plus signs": "+" * SIZE,
    "apostrophes": "'" * SIZE,
    "hospital number prompts": "hospital number " * 6_250,
}


@pytest.fixture(scope="module")
def screener():  # type: ignore[no-untyped-def]
    return default_screener()


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_input_is_screened_in_linear_time(screener, name: str) -> None:  # type: ignore[no-untyped-def]
    text = ADVERSARIAL[name]
    assert SIZE * 0.95 <= len(text) <= SIZE * 1.05
    best = float("inf")
    for _ in range(3):  # best of three: a loaded machine's pauses are not the code's
        started = time.perf_counter()
        screener.screen({"title": "t", "body": text}, author_name="Sam Smith")
        best = min(best, time.perf_counter() - started)
    assert best < BOUND_S, f"{name}: {best * 1000:.1f} ms"
