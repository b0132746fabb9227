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


@pytest.mark.parametrize(
    ("text", "level", "category"),
    [
        # Means + stockpiling, means + timing, a plan and a method, goodbyes.
        ("I've been hiding my antidepressants so I have enough.", L.SERIOUS, C.SUICIDE),
        ("I have the rope in the shed and I know when I'll do it.", L.SERIOUS, C.SUICIDE),
        ("I've written a note for my husband and sorted my affairs.", L.SERIOUS, C.SUICIDE),
        # A negation that is the disclosure itself is kept.
        ("I haven't taken my meds for a week, I'm keeping them.", L.SERIOUS, C.SUICIDE),
        ("I don't want to be here any more.", L.SERIOUS, C.SUICIDE),
        # Danger to life now makes a concern serious.
        ("Mum has been left in bed for two days without food or water.", L.SERIOUS, C.NEGLECT),
        (
            "His grandson drained his account and he can't pay for food.",
            L.SERIOUS,
            C.FINANCIAL_ABUSE,
        ),
        # Past and over: a concern.
        ("My uncle tried to hang himself last year but he's doing well now.", L.CONCERN, C.SUICIDE),
        ("I used to cut myself when I was at school.", L.CONCERN, C.SELF_HARM),
    ],
)
def test_concepts_combine_by_proximity_and_context(
    text: str, level: SafeguardingLevel, category: SafeguardingCategory
) -> None:
    result = body(text)
    assert result.safeguarding.level is level, result.safeguarding
    assert category in result.safeguarding.categories, result.safeguarding


@pytest.mark.parametrize(
    "text",
    [
        "I wanted to die of shame when I fell over in the waiting room.",
        "The nurse asked if I had ever thought of harming myself, and listened.",
        "The surgeon said they would take the lot out to be safe.",
        "The pharmacy kept my prescription ready for me to collect on Friday.",
        "I was scared to go home after my heart attack, but the rehab team helped.",
        "I cut my finger while cooking and the nurse glued it.",
        "My son used his savings to buy me a mobility scooter.",
        "The GP checked my phone number and address were right.",
    ],
)
def test_figures_of_speech_questions_and_everyday_care_are_not_flagged(text: str) -> None:
    assert body(text).safeguarding.level is L.NONE, body(text).safeguarding


def test_the_reason_says_when_it_is_about_someone_else() -> None:
    (match,) = body("My daughter told me she wants to end her life.").safeguarding.matches
    assert match.reason == "intent (about someone else)"
    (match,) = body("Three years ago I took an overdose.").safeguarding.matches
    assert match.reason == "past attempt"


def test_every_lexicon_phrase_tokenizes_as_it_would_in_a_story() -> None:
    # A phrase the tokenizer cuts differently alone than inside a sentence
    # (e.g. "i 'm" is `i ' m`, "I'm" is `I 'm`) could never match.
    import spacy

    from candour_screening.concepts import CONCEPTS, GROUPS
    from candour_screening.inflection import Inflector, expand
    from candour_screening.rules import NOUN_CONCEPTS

    nlp = spacy.blank("en")
    inflector = Inflector()
    wrong = []
    for concept, phrases in CONCEPTS.items():
        for phrase in phrases:
            variants = sorted(set(expand(phrase, inflector, GROUPS, noun=concept in NOUN_CONCEPTS)))
            for variant in variants[:20]:
                alone = [t.lower_ for t in nlp.make_doc(variant)]
                inside = [t.lower_ for t in nlp.make_doc(f"Then {variant} then")][1:-1]
                if alone != inside:
                    wrong.append((concept, phrase, variant))
    assert wrong == []


def test_rules_name_only_concepts_of_the_lexicon() -> None:
    from candour_screening.concepts import CONCEPTS
    from candour_screening.rules import RULES

    for rule in RULES:
        for concept in (rule.anchor, *rule.unless, *(c for n in rule.near for c in n.concepts)):
            assert concept in CONCEPTS, (rule.reason, concept)


def test_a_text_longer_than_a_story_is_screened_up_to_the_limit_and_says_so() -> None:
    from candour_screening.safeguarding import MAX_CHARS

    text = "The staff were kind. " * (MAX_CHARS // 20) + "I want to kill myself."
    result = body(text)
    assert result.safeguarding.level is L.NONE
    assert any("only the first 20,000" in limit for limit in result.limits)
    assert result.flagged  # a moderator must read it


def test_matches_of_one_category_are_capped_and_the_cap_reported() -> None:
    from candour_screening.safeguarding import MAX_MATCHES

    result = body("I want to kill myself. " * 40)
    assert len(result.safeguarding.matches) == MAX_MATCHES
    assert any("only the first" in limit and "suicide" in limit for limit in result.limits)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # Harm done with heat or cold rather than a violence verb: a person, or
        # their body, forced against something that scalds, burns or freezes,
        # often named only by a pronoun.
        ("The night carer pushes his feet into the scalding bath to hurry him.", C.PHYSICAL_ABUSE),
        ("One of the staff held him in a freezing shower as a punishment.", C.PHYSICAL_ABUSE),
        ("The agency worker lowers her into boiling water and laughs.", C.PHYSICAL_ABUSE),
        ("A carer pressed the hot iron against my dad's arm.", C.PHYSICAL_ABUSE),
        ("The care assistant pours scalding tea over her when she spills.", C.PHYSICAL_ABUSE),
        ("My husband pressed my hand onto the hot hob.", C.DOMESTIC_ABUSE),
        (
            "My boyfriend stubbed a lit cigarette out on my arm and says I deserved it.",
            C.DOMESTIC_ABUSE,
        ),
    ],
)
def test_harm_by_heat_or_cold_is_serious(text: str, category: SafeguardingCategory) -> None:
    result = body(text)
    assert result.safeguarding.level is L.SERIOUS, result.safeguarding
    assert category in result.safeguarding.categories, result.safeguarding


@pytest.mark.parametrize(
    "text",
    [
        # First aid, everyday cooking and bathing, an idiom, an accident.
        "The nurse ran my burnt hand under the cold tap straight away.",
        "The carer put the kettle on and made her a cup of tea.",
        "The care home manager put them in hot water with the inspectors.",
        "I put my hand on the hot hob by mistake and the minor injuries unit was brilliant.",
        "The carers help him into a warm bath every morning.",
        "The physio held my arm against the wall to stretch it.",
        "The carer poured boiling water into my mug and left it out of reach.",
        "She held my cup of boiling water for me while I sat down.",
    ],
)
def test_heat_in_everyday_care_is_not_flagged(text: str) -> None:
    assert body(text).safeguarding.level is L.NONE, body(text).safeguarding
