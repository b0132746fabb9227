"""Screening: each detector, the offsets contract, and determinism."""

from __future__ import annotations

import pytest

from candour_screening import (
    LanguageKind,
    Redaction,
    RedactionKind,
    Screening,
    apply_redactions,
)
from candour_screening import screen as screen_fields
from candour_screening.identifying import is_valid_nhs_number

pytestmark = pytest.mark.unit


def screen(title: str, body: str, author_name: str | None = None) -> Screening:
    return screen_fields({"title": title, "body": body}, author_name=author_name)


def kinds(screening: Screening) -> dict[str, RedactionKind]:
    return {r.text: r.kind for r in screening.redactions}


def assert_offsets_fit(screening: Screening, title: str, body: str) -> None:
    texts = {"title": title, "body": body}
    for item in (*screening.redactions, *screening.safeguarding.matches, *screening.language):
        assert texts[item.field][item.start : item.end] == item.text


@pytest.mark.parametrize(
    ("text", "found", "kind"),
    [
        ("write to jo.bloggs+nhs@example.co.uk today", "jo.bloggs+nhs@example.co.uk", "email"),
        ("ring me on 07911 123456 after six", "07911 123456", "phone"),
        ("the ward number is 020 7946 0958", "020 7946 0958", "phone"),
        ("call +44 7911 123456", "+44 7911 123456", "phone"),
        ("my mobile 07700 900123 (a reserved range)", "07700 900123", "phone"),
        ("my NHS number is 943 476 5919", "943 476 5919", "nhs_number"),
        ("NHS no 9434765919.", "9434765919", "nhs_number"),
        ("I live in LS1 4AB near the station", "LS1 4AB", "postcode"),
        ("postcode sw1a 1aa", "sw1a 1aa", "postcode"),
        ("we live at 42 Acacia Avenue now", "42 Acacia Avenue", "address"),
        ("seen on 12 March 2024 in clinic", "12 March 2024", "date"),
        ("seen on 3rd of June in clinic", "3rd of June", "date"),
        ("the letter dated 13/03/2024.", "13/03/2024", "date"),
        ("they came at 3pm and again", "3pm", "time"),
        ("they came at 14:30 and again", "14:30", "time"),
        ("Dr Patel explained everything", "Patel", "person_name"),
        ("Dr. O'Brien explained everything", "O'Brien", "person_name"),
        ("nurse Jane Brown was lovely", "Jane Brown", "person_name"),
        ("Sister Okafor ran the ward", "Okafor", "person_name"),
        ("Mrs Smith-Jones the matron", "Smith-Jones", "person_name"),
        ("my key worker Deshawn helped", "Deshawn", "person_name"),
        ("the receptionist, Tracy, was rude", "Tracy", "person_name"),
        ("Sarah on reception was kind", "Sarah", "person_name"),
    ],
)
def test_each_identifying_detail_is_suggested_for_redaction(
    text: str, found: str, kind: str
) -> None:
    screening = screen("A title", text)
    assert kinds(screening).get(found) == RedactionKind(kind), screening.redactions
    assert_offsets_fit(screening, "A title", text)


@pytest.mark.parametrize(
    "text",
    [
        "I waited 4 hours in 2023 and paid £2.50 for parking.",
        "The nurse was kind and the doctor listened.",
        "My NHS number is 943 476 5918 I think.",  # fails the mod-11 check
        "Ward 7 on the 2nd floor, bed 12.",
        "By the 3rd day after the operation I could walk.",
        "The GP Practice sent a letter and the Hospital called.",
        "It was 1.5 miles away and took 20 minutes.",
        "I may come back in March.",
    ],
)
def test_ordinary_text_suggests_no_redaction(text: str) -> None:
    assert screen("Title", text).redactions == ()


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("9434765919", True),
        ("4010232137", True),
        ("9434765918", False),
        ("1234567890", False),  # check digit would be 10: never issued
        ("0000000000", False),
        ("943476591", False),
        ("94347659x9", False),
    ],
)
def test_nhs_number_checksum(number: str, valid: bool) -> None:
    assert is_valid_nhs_number(number) is valid


def test_the_authors_own_name_is_found_in_any_case() -> None:
    body = "My name is Priyanka Sharma and SHARMA is on my wristband."
    screening = screen("Thanks", body, author_name="Priyanka Sharma")
    found = [(r.text, r.kind) for r in screening.redactions]
    assert found == [
        ("Priyanka Sharma", RedactionKind.AUTHOR_NAME),
        ("SHARMA", RedactionKind.AUTHOR_NAME),
    ]


def test_generic_display_names_identify_nobody() -> None:
    body = "As a patient and a carer I was well looked after; mum agreed."
    assert screen("Thanks", body, author_name="A patient's mum").redactions == ()


def test_overlapping_details_merge_so_nothing_leaks() -> None:
    body = "Dr Sam Smith (sam.smith@example.org)"
    screening = screen("t", body, author_name="Sam")
    assert screening.redacted("body", body) == "Dr [name] ([email address])"


def test_title_and_body_are_screened_separately_with_their_own_offsets() -> None:
    title = "Thank you Dr Khan"
    body = "Dr Khan was great."
    screening = screen(title, body)
    by_field = {(r.field, r.start, r.end) for r in screening.redactions}
    assert by_field == {("title", 13, 17), ("body", 3, 7)}
    assert screening.redacted("title", title) == "Thank you Dr [name]"


def test_swearing_discriminatory_language_and_capitals() -> None:
    title = "TERRIBLE CARE AT THE NHS WALK IN CENTRE"
    body = "The receptionist was a f***ing disgrace and called him a retard. A&E and ICU staff ok."
    screening = screen(title, body)
    flags = {(f.field, f.text, f.kind) for f in screening.language}
    assert ("body", "f***ing", LanguageKind.SWEARING) in flags
    assert ("body", "retard", LanguageKind.DISCRIMINATORY) in flags
    assert ("title", title, LanguageKind.CAPITALS) in flags
    assert not any(
        f.kind is LanguageKind.CAPITALS and f.field == "body" for f in screening.language
    )
    assert_offsets_fit(screening, title, body)


def test_words_that_contain_swearing_are_not_flagged() -> None:
    screening = screen(
        "Scunthorpe", "We went to Scunthorpe General; the shiitake risotto; Arsenal."
    )
    assert screening.language == ()


def test_screening_is_deterministic() -> None:
    body = "Dr Patel (07911 123456) said I was suicidal; call me on 07911 123456. LS1 4AB."
    assert screen("Title", body, "Sam") == screen("Title", body, "Sam")


def test_apply_redactions_refuses_spans_that_do_not_fit() -> None:
    bad = Redaction("body", 0, 3, "xyz", RedactionKind.PERSON_NAME, "[name]")
    with pytest.raises(ValueError, match="does not fit"):
        apply_redactions("abc def", [bad])
    assert apply_redactions("abc def", []) == "abc def"


def test_a_story_with_everything_redacts_cleanly() -> None:
    body = (
        "My name is Sam Taylor. Dr Patel and Nurse Jane Brown were kind. Call me on "
        "07700 900123 or email sam.taylor@example.org. NHS number 943 476 5919. "
        "I live at 42 Acacia Avenue, LS1 4AB. On 12 March 2024 at 3pm."
    )
    screening = screen("Good care", body, "Sam Taylor")
    assert screening.redacted("body", body) == (
        "My name is [name]. Dr [name] and Nurse [name] were kind. Call me on "
        "[phone number] or email [email address]. NHS number [NHS number]. "
        "I live at [address], [postcode]. On [date] at [time]."
    )
