"""The "about you" answers: validated by name, kept out of reprs, counted with small
counts suppressed (and a second cell where one could be worked out from the total)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from candour_common.about_you import (
    ANSWERS,
    ETHNIC_CATEGORIES,
    ETHNIC_GROUPS,
    PREFER_NOT_TO_SAY,
    Characteristic,
)
from candour_common.events import Source
from candour_intake.adapters.feedback_csv import FeedbackFileError, parse_feedback
from candour_intake.domain import AboutYou, UnknownCategory
from candour_intake.entrypoints.schemas import StoryIn
from candour_intake.voices import AnswerCount, mix, summarise, suppress

pytestmark = pytest.mark.unit

AT = datetime(2025, 3, 5, 2, 0, tzinfo=UTC)
STORY = {
    "title": "Seen quickly",
    "body": "The crisis team came the same evening.",
    "organisation_id": "TAD",
    "author": {"display_name": "Sam", "relationship": "carer"},
}


def test_the_census_2021_ethnic_categories_are_the_19_in_5_groups() -> None:
    assert len(ETHNIC_CATEGORIES) == 19
    assert {group for group, _ in ETHNIC_CATEGORIES.values()} == set(ETHNIC_GROUPS)
    assert len(ETHNIC_GROUPS) == 5


def test_every_question_is_optional_and_offers_prefer_not_to_say() -> None:
    assert StoryIn.model_validate(STORY).about_you is None
    empty = StoryIn.model_validate({**STORY, "about_you": {}})
    assert empty.about_you is not None and empty.about_you.model_dump() == dict.fromkeys(
        ("age_band", "sex", "ethnic_group", "disability")
    )
    declined = {c.value: PREFER_NOT_TO_SAY for c in Characteristic}
    assert StoryIn.model_validate({**STORY, "about_you": declined}).about_you is not None
    for characteristic, answers in ANSWERS.items():
        for answer in answers:
            AboutYou(**{characteristic.value: answer})


@pytest.mark.parametrize("characteristic", list(Characteristic))
def test_an_unknown_category_is_refused_naming_the_field_not_the_value(
    characteristic: Characteristic,
) -> None:
    with pytest.raises(ValidationError) as caught:
        StoryIn.model_validate({**STORY, "about_you": {characteristic.value: "zz-unknown"}})
    [error] = caught.value.errors(include_input=False)
    assert error["loc"] == ("about_you", characteristic.value)
    assert "zz-unknown" not in error["msg"]
    assert PREFER_NOT_TO_SAY in error["msg"]
    with pytest.raises(UnknownCategory):
        AboutYou(**{characteristic.value: "zz-unknown"})


def test_unknown_fields_in_about_you_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        StoryIn.model_validate({**STORY, "about_you": {"religion": "none"}})
    assert caught.value.errors()[0]["loc"] == ("about_you", "religion")


def test_answers_never_show_in_a_repr() -> None:
    answers = AboutYou("85_plus", "female", "white_roma", "yes")
    assert "85_plus" not in repr(answers) and "white_roma" not in str(answers)


def test_counts_under_5_are_suppressed() -> None:
    assert suppress({"a": 5, "b": 4, "c": 0, "d": 12}) == {"a": 5, "b": None, "c": None, "d": 12}


def test_a_lone_suppressed_cell_hides_the_next_smallest_too() -> None:
    # answered (16) - 5 - 9 would give b = 2: so a (the smallest shown) goes too.
    assert suppress({"a": 5, "b": 2, "c": 9}) == {"a": None, "b": None, "c": 9}


def test_a_total_under_5_suppresses_everything() -> None:
    assert suppress({"a": 3, "b": 1}) == {"a": None, "b": None}
    answered = mix(Characteristic.SEX, {"female": 3, "male": 1, PREFER_NOT_TO_SAY: 7})
    assert answered.answered is None
    assert [c.count for c in answered.categories] == [None, None]
    assert answered.prefer_not_to_say == 7


def test_ethnic_groups_are_counted_in_their_5_high_level_groups() -> None:
    counted = mix(
        Characteristic.ETHNIC_GROUP,
        {"white_british": 6, "white_irish": 2, "asian_indian": 3, "asian_pakistani": 4},
    )
    assert {c.category: c.count for c in counted.categories} == {
        "asian": 7,
        "black": None,
        "mixed": None,
        "white": 8,
        "other": None,
    }
    assert counted.answered == 15
    assert "white_british" not in counted.model_dump_json()


def test_every_programme_gets_a_summary_even_without_answers() -> None:
    counts = [
        AnswerCount("mental-health", Characteristic.DISABILITY, "yes", 6),
        AnswerCount("mental-health", Characteristic.DISABILITY, "no", 9),
    ]
    summaries = summarise(["maternity", "mental-health"], counts, AT)
    assert [s.programme for s in summaries] == ["maternity", "mental-health"]
    empty, heard = summaries
    assert all(c.answered is None for c in empty.characteristics)
    disability = next(c for c in heard.characteristics if c.characteristic == "disability")
    assert disability.answered == 15
    assert [c.count for c in disability.categories] == [6, 9]
    assert heard.kafka_key() == "mental-health" and heard.subject() == "mental-health"
    assert heard.story() is None


FEEDBACK = (
    "external_id,organisation_id,service_id,title,body,age_band,sex,ethnic_group,disability\n"
    "HW-1,TAD,TAD-CMHT,Seen quickly,The team came.,35_44,female,asian_indian,no\n"
    "HW-2,TAD,TAD-CMHT,Seen quickly,The team came.,,,,\n"
    "HW-3,TAD,TAD-CMHT,Seen quickly,The team came.,prefer_not_to_say,,,\n"
)


def test_the_import_reads_optional_about_you_columns() -> None:
    first, second, third = parse_feedback(FEEDBACK, source=Source.HEALTHWATCH)
    assert first.command.about_you == AboutYou("35_44", "female", "asian_indian", "no")
    assert second.command.about_you is not None and second.command.about_you.empty
    assert third.command.about_you == AboutYou(age_band=PREFER_NOT_TO_SAY)


def test_the_import_names_the_line_and_column_of_an_unknown_category() -> None:
    bad = FEEDBACK.replace("asian_indian", "martian")
    with pytest.raises(FeedbackFileError) as caught:
        parse_feedback(bad, source=Source.HEALTHWATCH)
    [error] = caught.value.errors
    assert error.line == 2
    assert error.message.startswith("ethnic_group: ")
    assert "martian" not in error.message
