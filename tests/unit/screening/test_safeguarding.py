"""Safeguarding screening: the taxonomy, lemma-aware rules, proximity, negation and tense."""

from __future__ import annotations

import pytest

from candour_screening import (
    SafeguardingCategory,
    SafeguardingLevel,
    Screening,
    default_screener,
    screen,
)
from candour_screening.model import Safeguarding, SafeguardingMatch

pytestmark = pytest.mark.unit

C, L = SafeguardingCategory, SafeguardingLevel


def body(text: str) -> Screening:
    return screen({"body": text})


@pytest.mark.parametrize(
    ("text", "level", "category"),
    [
        # The three stories of issue 17 that were screened `none` before.
        (
            "I've been putting my sleeping pills aside in a drawer and I'll have enough by Sunday.",
            L.SERIOUS,
            C.SUICIDE,
        ),
        (
            "She reads all my messages and won't let me see my sister or have my own bank card.",
            L.SERIOUS,
            C.DOMESTIC_ABUSE,
        ),
        (
            "The neighbour who does Grandad's shopping keeps his pension card and Grandad "
            "won't say a word when he's there.",
            L.CONCERN,
            C.FINANCIAL_ABUSE,
        ),
        ("Some nights I want to kill myself.", L.SERIOUS, C.SUICIDE),
        ("I started cutting myself again last week.", L.SERIOUS, C.SELF_HARM),
        ("My partner hits me when he drinks.", L.SERIOUS, C.DOMESTIC_ABUSE),
        ("Mum was left in soiled sheets all night.", L.CONCERN, C.NEGLECT),
        ("Three years ago I took an overdose; I'm doing well now.", L.CONCERN, C.SUICIDE),
    ],
)
def test_disclosures_get_their_category_and_level(
    text: str, level: SafeguardingLevel, category: SafeguardingCategory
) -> None:
    result = body(text)
    assert result.safeguarding.level is level, result.safeguarding
    assert category in result.safeguarding.categories
    for m in result.safeguarding.matches:
        assert text[m.start : m.end] == m.text
        assert m.reason


@pytest.mark.parametrize(
    "text",
    [
        # Issue 17: a risk word in a safe context was flagged before.
        "The pharmacist explained the overdose warning on my new prescription.",
        "The chocolate cake in the hospital café is to die for.",
        "I spent the wait killing time with a crossword.",
        "I arrived with a killer headache and was seen quickly.",
        "After four hours I could have murdered a cup of tea.",
        "The crisis café on the high street is a lifeline.",
        "I'm not suicidal, but the waiting list is far too long.",
        "I have never felt like harming myself.",
        "It hit me how tired the staff were.",
    ],
)
def test_traps_and_negations_are_not_flagged(text: str) -> None:
    assert body(text).safeguarding.level is L.NONE, body(text).safeguarding


def test_inflections_match_through_the_lookup_lemmatizer() -> None:
    screener = default_screener()
    for sentence in (
        "He has been stockpiling his tablets.",
        "She stockpiled her tablets.",
        "I stockpile tablets.",
    ):
        assert screener.screen({"body": sentence}).safeguarding.level is L.SERIOUS, sentence


def test_proximity_is_bounded_in_tokens() -> None:
    near = "I want to jump off the bridge."
    far = (
        "I want "
        + "to see the sea and walk along it in the sun with my dog " * 3
        + "by the bridge."
    )
    assert body(near).safeguarding.level is L.SERIOUS
    assert body(far).safeguarding.level is L.NONE


def test_categories_are_listed_once_most_severe_first() -> None:
    result = body("Mum was left in soiled sheets. I want to kill myself.")
    assert result.safeguarding.categories == (C.SUICIDE, C.NEGLECT)


def test_to_json_is_the_api_shape_and_reads_back() -> None:
    result = screen({"title": "Dr Patel", "body": "I want to kill myself."})
    data = result.to_json()
    assert data["safeguarding"]["level"] == "serious"
    assert data["safeguarding"]["categories"] == ["suicide"]
    assert {"field", "start", "end", "text", "category", "level", "reason"} <= set(
        data["safeguarding"]["matches"][0]
    )
    assert data["redactions"][0] == {
        "field": "title",
        "start": 3,
        "end": 8,
        "text": "Patel",
        "kind": "person_name",
        "replacement": "[name]",
    }
    assert Screening.from_json(data) == result


def test_a_screening_stored_before_the_taxonomy_is_still_readable() -> None:
    old = {
        "safeguarding": {
            "level": "serious",
            "matches": [
                {
                    "field": "body",
                    "start": 0,
                    "end": 11,
                    "text": "kill myself",
                    "category": "suicidal_intent",
                    "level": "serious",
                }
            ],
        },
        "redactions": [],
        "language": [],
    }
    read = Screening.from_json(old)
    assert read.safeguarding == Safeguarding(
        L.SERIOUS,
        (
            SafeguardingMatch(
                "body",
                0,
                11,
                "kill myself",
                C.SUICIDE,
                L.SERIOUS,
                "earlier screening (suicidal intent)",
            ),
        ),
    )
    assert read.safeguarding.categories == (C.SUICIDE,)


def test_screening_is_pure_and_deterministic() -> None:
    text = "I've been saving my pills. Dr Okafor knows. Ring 07700 900461."
    assert body(text) == body(text)
