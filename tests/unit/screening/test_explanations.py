"""Screening's explanations (a match's reason, a field's limits) stay English where they
are stored and returned, and a page says them in Welsh from moderation's catalogue."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest

from candour_common.web.i18n import COMMON_LOCALE, load_translations
from candour_screening import Screening, localised_limit, localised_reason, screen
from candour_screening.rules import RULES
from candour_screening.safeguarding import MAX_CHARS, MAX_MATCHES

pytestmark = pytest.mark.unit

MODERATION_LOCALE = (
    Path(__file__).resolve().parents[3] / "services/moderation/src/candour_moderation/locale"
)


@pytest.fixture(scope="module")
def welsh() -> gettext.NullTranslations:
    return load_translations([MODERATION_LOCALE, COMMON_LOCALE])["cy"]


ENGLISH = gettext.NullTranslations()


def test_a_match_reason_is_said_in_welsh_and_stays_english_in_english(
    welsh: gettext.NullTranslations,
) -> None:
    (match,) = screen(
        {"body": "My daughter told me she wants to end her life."}
    ).safeguarding.matches
    assert match.reason == "intent (about someone else)"  # stored and returned as before
    assert localised_reason(match.reason, welsh.gettext) == "bwriad (am rywun arall)"
    assert localised_reason(match.reason, ENGLISH.gettext) == match.reason


@pytest.mark.parametrize(
    ("stored", "said"),
    [
        ("past attempt", "ymgais yn y gorffennol"),
        ("means + intent, in the past", "modd + bwriad, yn y gorffennol"),
        ("care not given, with danger now", "gofal heb ei roi, gyda pherygl nawr"),
        (
            "means + intent, in the past (about someone else)",
            "modd + bwriad, yn y gorffennol (am rywun arall)",
        ),
        # A rule reason that itself holds a comma.
        (
            "grooming: an older person, gifts or secrecy",
            "meithrin perthynas amhriodol: person hŷn, anrhegion neu gyfrinachedd",
        ),
    ],
)
def test_every_part_of_a_reason_is_said_in_welsh(
    welsh: gettext.NullTranslations, stored: str, said: str
) -> None:
    assert localised_reason(stored, welsh.gettext) == said
    assert localised_reason(stored, ENGLISH.gettext) == stored


def test_every_rule_reason_has_its_welsh(welsh: gettext.NullTranslations) -> None:
    for rule in RULES:
        assert localised_reason(rule.reason, welsh.gettext) != rule.reason, rule.reason


def test_a_reason_screening_no_longer_gives_is_shown_as_stored(
    welsh: gettext.NullTranslations,
) -> None:
    # Written by an older screening: no rule says it now, so it is shown as it was stored.
    for stored in ("keyword: overdose", "a reason from 2025, in the past", ""):
        assert localised_reason(stored, welsh.gettext) == stored


def test_a_screening_stored_before_the_taxonomy_reads_and_says_its_reason_in_welsh(
    welsh: gettext.NullTranslations,
) -> None:
    old = {
        "safeguarding": {
            "level": "serious",
            "matches": [
                {
                    "field": "body",
                    "start": 0,
                    "end": 4,
                    "text": "kill",
                    "category": "suicidal_intent",
                    "level": "serious",
                }
            ],
        },
        "redactions": [],
    }
    (match,) = Screening.from_json(old).safeguarding.matches
    assert match.reason == "earlier screening (suicidal intent)"  # English, as before
    assert localised_reason(match.reason, welsh.gettext) == "sgrinio cynharach (bwriad hunanladdol)"


def test_a_limit_is_said_in_welsh_and_stays_english_in_english(
    welsh: gettext.NullTranslations,
) -> None:
    text = "Lorem ipsum dolor sit amet. " * (MAX_CHARS // 25)
    limit, *_ = screen({"body": text}).limits
    assert limit == (
        f"body: only the first 20,000 of {len(text):,} characters were screened for safeguarding"
    )
    assert localised_limit(limit, welsh.gettext) == (
        f"Yn y stori: dim ond y 20,000 nod cyntaf o'r {len(text):,} a sgriniwyd ar gyfer diogelu"
    )
    assert localised_limit(limit, ENGLISH.gettext) == limit


def test_a_capped_category_is_said_in_welsh(welsh: gettext.NullTranslations) -> None:
    (limit,) = screen({"title": "I want to kill myself. " * (MAX_MATCHES + 2)}).limits
    assert limit == "title: only the first 10 matches of suicide are listed"
    assert localised_limit(limit, welsh.gettext) == (
        "Yn y teitl: dim ond y 10 cyfatebiaeth gyntaf ar gyfer hunanladdiad a restrir"
    )
    assert localised_limit(limit, ENGLISH.gettext) == limit


@pytest.mark.parametrize(
    ("stored", "said"),
    [
        (
            "body: a phrase occurs more than 200 times; only its first 200 occurrences "
            "were screened",
            "Yn y stori: mae ymadrodd yn ymddangos fwy na 200 o weithiau; dim ond y 200 tro "
            "cyntaf a sgriniwyd",
        ),
        (
            "body: safeguarding screening stopped after 1,500 candidate phrases; "
            "read the whole text",
            "Yn y stori: daeth y sgrinio diogelu i ben ar ôl 1,500 o ymadroddion posibl; "
            "darllenwch y testun cyfan",
        ),
    ],
)
def test_the_other_limits_are_said_in_welsh(
    welsh: gettext.NullTranslations, stored: str, said: str
) -> None:
    assert localised_limit(stored, welsh.gettext) == said
    assert localised_limit(stored, ENGLISH.gettext) == stored


def test_an_identifying_details_limit_is_said_in_welsh(welsh: gettext.NullTranslations) -> None:
    limits = screen({"body": "Lorem Ipsum Dolor. " * 200}).limits
    assert limits == (
        "body: more than 500 capitalised words; only the first 500 were checked for "
        "identifying details",
    )
    assert localised_limit(limits[0], welsh.gettext) == (
        "Yn y stori: mwy na 500 (geiriau â phriflythyren); dim ond y 500 cyntaf a wiriwyd am "
        "fanylion adnabyddadwy"
    )
    assert localised_limit(limits[0], ENGLISH.gettext) == limits[0]


def test_a_limit_not_recognised_is_shown_as_stored(welsh: gettext.NullTranslations) -> None:
    for stored in (
        "body: only the first 10 matches of a category since renamed are listed",
        "body: screening took too long",
        "body: more than 500 things since renamed; only the first 500 were checked for "
        "identifying details",
    ):
        assert localised_limit(stored, welsh.gettext) == stored
