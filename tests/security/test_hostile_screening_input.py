"""Screening runs in linear time on any input (issue 16): no pattern backtracks.

Each 100 KB adversarial string is screened in under 50 ms, the issue's bound.
It is measured as the CPU time of this process (`time.process_time`), best of
three, so a loaded shared CI machine's waiting is not counted; even so it is a
generous bound (the worst measured here is ~30 ms of CPU, see
`bench/screening_bench.py --adversarial` for the worst case on this machine).

Before the fix: `"a." * 50000 + "@"` took ~9 s (the email pattern rescanned
the run from every position), "I want to die and " repeated 2.4 s (spaCy's
Matcher with bounded gaps on trigger-dense text), "1 " repeated 0.6 s (a phone
parse per candidate), and 100 KB of apostrophes did not finish in minutes
(spaCy's tokenizer strips affixes one at a time: quadratic in a run's length).
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
    "negated triggers": "I am not suicidal. " * 5_263,
    "plus signs": "+" * SIZE,
    "apostrophes": "'" * SIZE,
    "possessive suffixes": "'s" * 50_000,
    "brackets and currency": "($" * 50_000,
    "short punctuation runs": "''''''' " * 12_500,
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
    for _ in range(3):
        started = time.process_time()
        result = screener.screen({"title": "t", "body": text}, author_name="Sam Smith")
        best = min(best, time.process_time() - started)
    assert best < BOUND_S, f"{name}: {best * 1000:.1f} ms of CPU"
    # What was cut short is said, so a moderator reads the text in full.
    assert result.limits


def test_the_work_grows_linearly_with_the_text(screener) -> None:  # type: ignore[no-untyped-def]
    def cost(text: str) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            screener.screen({"body": text})
            best = min(best, time.process_time() - started)
        return best

    # Below the safeguarding limit, so every detector sees all of it.
    small, large = cost("'s" * 1_000), cost("'s" * 8_000)
    assert large < small * 8 * 3 + 0.005, (small, large)
